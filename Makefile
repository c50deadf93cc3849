# The two commands (README.md): `make demo` runs the default pipeline, `make test` runs
# the tests. Both create/refresh .venv/ and install what is missing, Debian packages too.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
VALIDATORS := tools/validators/node_modules/.installed
# nerfstudio in its own venv (it pins numpy 1.26 and viser 0.2.7), with the plugin.
NS_VENV := .venv-nerfstudio
NS_STAMP := $(NS_VENV)/.installed
NS_PLUGIN := plugins/nerfstudio

.PHONY: demo test system lint format bench bench-reconstruct nerfstudio clean

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $(STAMP)

$(NS_STAMP): $(NS_PLUGIN)/requirements.txt $(NS_PLUGIN)/pyproject.toml $(NS_PLUGIN)/partdrag4d_nerfstudio_torchvision.pth
	@test -x $(NS_VENV)/bin/python || $(PYTHON) -m venv $(NS_VENV)
	$(NS_VENV)/bin/pip install -q -r $(NS_PLUGIN)/requirements.txt
	$(NS_VENV)/bin/pip install -q --no-deps -e $(NS_PLUGIN)
	cp $(NS_PLUGIN)/partdrag4d_nerfstudio_torchvision.pth \
	  "$$($(NS_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/"
	$(NS_VENV)/bin/python -c "import nerfstudio, torchvision, partdrag4d_nerfstudio.method"
	@touch $@

nerfstudio: $(NS_STAMP)

system:
	@bash tools/setup_system.sh $(SYSTEM_NEEDS)

$(VALIDATORS): tools/validators/package.json
	npm install --prefix tools/validators --no-audit --no-fund --loglevel=error
	@touch $@

demo: system $(STAMP)
	$(VENV)/bin/partdrag4d $(ARGS)

# Test files run on TEST_JOBS processes (pytest-xdist; one file stays on one process, so
# its module fixtures run once); TEST_JOBS=0 runs them in this process, one by one.
TEST_JOBS ?= 2
test: SYSTEM_NEEDS = --test
test: system $(STAMP) $(VALIDATORS) $(NS_STAMP)
	$(VENV)/bin/ruff check partdrag4d tests tools plugins
	$(VENV)/bin/ruff format --check partdrag4d tests tools plugins
	tools/validators/node_modules/.bin/pyright --pythonpath $(VENV)/bin/python
	PARTDRAG4D_NERFSTUDIO=$(NS_VENV) $(VENV)/bin/pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP) $(VALIDATORS)
	$(VENV)/bin/ruff check --fix partdrag4d tests tools plugins
	$(VENV)/bin/ruff format partdrag4d tests tools plugins
	tools/validators/node_modules/.bin/pyright --pythonpath $(VENV)/bin/python

bench: system $(STAMP)
	$(VENV)/bin/python tools/benchmarks/bench_render.py

# The reconstruction benchmark (README "Benchmarks"): the wide suite by default;
# BENCH_ARGS="--suite categories" for the procedural categories.
bench-reconstruct: system $(STAMP)
	$(VENV)/bin/python tools/benchmarks/bench_reconstruct.py --jobs 2 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(NS_VENV) .artefacts outputs multirun tools/validators/node_modules
