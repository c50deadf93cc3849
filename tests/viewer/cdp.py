"""Headless Chromium driven through the DevTools protocol (screenshots with real waits)."""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

import numpy as np
from PIL import Image
from websockets.sync.client import connect


class Browser:
    """One headless Chromium page; WebGL through SwiftShader (no GPU needed)."""

    def __init__(self, width: int = 800, height: int = 600):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            raise FileNotFoundError("chromium")
        self.profile = tempfile.mkdtemp(prefix="partdrag4d-chromium-")
        self.proc = subprocess.Popen(
            [
                exe,
                "--headless=new",
                "--no-sandbox",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = None
        end = time.monotonic() + 60
        while port is None and time.monotonic() < end:
            line = self.proc.stderr.readline()
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            port = int(match.group(1)) if match else None
        if port is None:
            raise TimeoutError("chromium did not start")
        # keep draining its log so that a full pipe never blocks the browser
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        self.port = port
        self.ws = None
        self.ids = itertools.count(1)

    def call(self, method: str, **params) -> dict:
        """Send one DevTools command and wait for its result (events are skipped)."""
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=120))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def open(self, url: str) -> None:
        """A new tab showing ``url``; later calls talk to it."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?{url}", method="PUT"
        )
        page = json.loads(urllib.request.urlopen(request, timeout=30).read())
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None)
        self.call("Page.enable")

    def screenshot(self) -> np.ndarray:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))

    def steady_screenshot(self, timeout: float = 90.0, pause: float = 1.0) -> np.ndarray:
        """A screenshot once two taken ``pause`` seconds apart agree (rendering settled)."""
        end = time.monotonic() + timeout
        last = self.screenshot()
        while time.monotonic() < end:
            time.sleep(pause)
            shot = self.screenshot()
            if np.array_equal(shot, last) and shot.std() > 1.0:
                return shot
            last = shot
        raise TimeoutError("the page did not settle")

    def close(self) -> None:
        try:
            if self.ws is not None:
                self.ws.close()
        finally:
            self.proc.kill()
            self.proc.wait(timeout=30)
            shutil.rmtree(self.profile, ignore_errors=True)
