# The two commands (README.md): `make demo` runs the default pipeline, `make test` runs
# the tests. Both create/refresh .venv/ and install what is missing, Debian packages too.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
VALIDATORS := tools/validators/node_modules/.installed

.PHONY: demo test system lint format bench bench-reconstruct clean

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $(STAMP)

system:
	@bash tools/setup_system.sh $(SYSTEM_NEEDS)

$(VALIDATORS): tools/validators/package.json
	npm install --prefix tools/validators --no-audit --no-fund --loglevel=error
	@touch $@

demo: system $(STAMP)
	$(VENV)/bin/partdrag4d $(ARGS)

test: SYSTEM_NEEDS = --test
test: system $(STAMP) $(VALIDATORS)
	$(VENV)/bin/ruff check partdrag4d tests tools
	$(VENV)/bin/ruff format --check partdrag4d tests tools
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check --fix partdrag4d tests tools
	$(VENV)/bin/ruff format partdrag4d tests tools

bench: system $(STAMP)
	$(VENV)/bin/python tools/benchmarks/bench_render.py

# The reconstruction benchmark (README "Benchmarks"): the wide suite by default;
# BENCH_ARGS="--suite categories" for the procedural categories.
bench-reconstruct: system $(STAMP)
	$(VENV)/bin/python tools/benchmarks/bench_reconstruct.py --jobs 2 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .artefacts outputs multirun tools/validators/node_modules
