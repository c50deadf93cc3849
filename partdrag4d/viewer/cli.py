"""``partdrag4d view RUN_DIR``: open a run folder in the built-in viewer."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from partdrag4d.errors import InputError


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The viewer's command line."""
    parser = argparse.ArgumentParser(
        prog="partdrag4d view",
        description=(
            "Show a run folder (the out_dir of a partdrag4d run) in the browser: the "
            "articulated parts, a time slider with play, one slider per joint, the video "
            "cameras with their current frame."
        ),
    )
    parser.add_argument("run_dir", help="run folder holding export/ (and videos/)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C; return the exit code (2 on a bad run folder)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from partdrag4d.viewer.run_folder import read_run_folder
    from partdrag4d.viewer.server import RunViewer, ViewerConfig

    try:
        run = read_run_folder(args.run_dir)
    except InputError as err:
        print(f"partdrag4d view: error: {err}", file=sys.stderr)
        return 2
    viewer = RunViewer(run, ViewerConfig(host=args.host, port=args.port))
    # Ctrl-C (and a plain ``kill``) stop the server even when the process was started
    # with SIGINT ignored, as background jobs and some launchers do.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"partdrag4d view: {run.root} at {viewer.url} (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_within(viewer, STOP_TIMEOUT_S)
    print("partdrag4d view: stopped", flush=True)
    return 0


STOP_TIMEOUT_S = 3.0
"""How long Ctrl-C waits for the server to wind down (viser waits several seconds for
each open browser connection before it lets go; its threads are daemonic)."""


def _stop_within(viewer, seconds: float) -> None:
    """``viewer.stop()``, given up on after ``seconds``."""
    stopper = threading.Thread(target=viewer.stop, name="viewer-stop", daemon=True)
    stopper.start()
    stopper.join(seconds)
