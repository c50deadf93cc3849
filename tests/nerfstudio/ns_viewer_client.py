"""A websocket client of nerfstudio's viewer (viser 0.2, plain msgpack messages)."""

from __future__ import annotations

import io
import threading
import time

import msgspec
import numpy as np
from PIL import Image
from websockets.sync.client import connect


class NerfstudioViewerClient:
    """Mirrors the GUI elements and the latest rendered image of ``ns-viewer``."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.ws = connect(f"ws://{host}:{port}", max_size=None)
        self.gui: dict[str, dict] = {}
        self.images: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        try:
            for raw in self.ws:
                decoded = msgspec.msgpack.decode(raw)
                for m in decoded if isinstance(decoded, list) else [decoded]:
                    with self._lock:
                        self._apply(m)
        except Exception:  # connection closed
            pass

    def _apply(self, m: dict) -> None:
        kind = m.get("type", "")
        if kind.startswith("GuiAdd") and "label" in m:
            self.gui[m["label"]] = m
        elif kind == "GuiUpdateMessage":
            for entry in self.gui.values():
                if entry["id"] == m["id"]:
                    entry.update(m["updates"])
        elif kind == "BackgroundImageMessage":
            image = Image.open(io.BytesIO(bytes(m["rgb_bytes"]))).convert("RGB")
            self.images.append(np.asarray(image))

    def send_camera(self, T_world_cam: np.ndarray, fov: float, aspect: float, scale: float):
        """The browser's camera (OpenCV ``T_world_cam``; positions in viewer units)."""
        from scipy.spatial.transform import Rotation

        wxyz = Rotation.from_matrix(T_world_cam[:3, :3]).as_quat(scalar_first=True)
        position = T_world_cam[:3, 3] * scale
        self._send(
            {
                "type": "ViewerCameraMessage",
                "wxyz": tuple(float(x) for x in wxyz),
                "position": tuple(float(x) for x in position),
                "fov": float(fov),
                "aspect": float(aspect),
                "look_at": tuple(float(x) for x in position + T_world_cam[:3, 2] * scale),
                "up_direction": (0.0, 0.0, 1.0),
            }
        )

    def move(self, label: str, value) -> None:
        """Move GUI element ``label`` as a user does."""
        self._send(
            {"type": "GuiUpdateMessage", "id": self.gui[label]["id"], "updates": {"value": value}}
        )

    def _send(self, message: dict) -> None:
        self.ws.send(msgspec.msgpack.encode(message))

    def wait_for(self, predicate, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if predicate(self):
                    return
            time.sleep(0.05)
        raise TimeoutError("ns-viewer did not send what was expected")

    def next_image(self, side: int, timeout: float = 120.0, quiet: float = 2.0) -> np.ndarray:
        """The first image ``side`` pixels high that the viewer sends after this call and
        follows with no other for ``quiet`` s: the viewer sends a coarse image first (of a
        height it picks from its render speed) and one at "Max res" once the view is still,
        later on a loaded machine, and an image it was rendering may still come in."""
        end = time.monotonic() + timeout
        start = len(self.images)
        count, since = start, time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.1)
            if len(self.images) != count:
                count, since = len(self.images), time.monotonic()
            elif (
                count > start
                and time.monotonic() - since > quiet
                and self.images[-1].shape[0] == side
            ):
                return self.images[-1]
        heights = [image.shape[0] for image in self.images[start:]]
        raise TimeoutError(f"ns-viewer sent no image {side} px high (it sent {heights})")

    def close(self) -> None:
        self.ws.close()
        self._thread.join(timeout=5)
