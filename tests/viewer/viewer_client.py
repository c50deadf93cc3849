"""A websocket client of the viser viewer, the way the browser talks to it.

It decodes the server's wire format (``[8 B msgpack size][8 B zstd size][zstd msgpack]``
then 8-byte aligned binary buffers), keeps the latest state of every scene node and GUI
element, and sends GUI updates as the browser does when a slider moves.
"""

from __future__ import annotations

import threading
import time

import msgspec
import numpy as np
import viser
import zstandard
from websockets.sync.client import connect


def decode(raw: bytes) -> list[dict]:
    """The messages of one websocket frame, binary placeholders replaced by arrays."""
    size = int.from_bytes(raw[:8], "little")
    compressed = int.from_bytes(raw[8:16], "little")
    inner = zstandard.ZstdDecompressor().decompress(raw[16 : 16 + compressed], size)
    doc = msgspec.msgpack.decode(inner)
    buffers, offset = [], 16 + compressed
    for length in doc["binaryBufferLengths"]:
        offset += (8 - offset % 8) % 8
        buffers.append(raw[offset : offset + length])
        offset += length

    def fill(obj):
        if isinstance(obj, dict):
            if "__binary_index" in obj:
                return np.frombuffer(buffers[obj["__binary_index"]], dtype=obj["dtype"])
            return {k: fill(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [fill(v) for v in obj]
        return obj

    return [fill(m) for m in doc["messages"]]


class ViewerClient:
    """Connects to ``ws://host:port`` and mirrors the scene and the GUI."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.ws = connect(
            f"ws://{host}:{port}", subprotocols=[f"viser-v{viser.__version__}"], max_size=None
        )
        self.nodes: dict[str, dict] = {}
        self.position: dict[str, np.ndarray] = {}
        self.wxyz: dict[str, np.ndarray] = {}
        self.visible: dict[str, bool] = {}
        self.gui: dict[str, dict] = {}
        self.updates = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()
        self._send(  # the browser's first message; viser counts a client only after it
            {
                "type": "ViewerCameraMessage",
                "wxyz": (1.0, 0.0, 0.0, 0.0),
                "position": (0.0, -3.0, 1.0),
                "fov": 1.0,
                "near": 0.01,
                "far": 100.0,
                "image_height": 480,
                "image_width": 640,
                "look_at": (0.0, 0.0, 0.0),
                "up_direction": (0.0, 0.0, 1.0),
            }
        )

    def _send(self, message: dict) -> None:
        self.ws.send(msgspec.msgpack.encode(message))

    def _receive(self) -> None:
        try:
            for raw in self.ws:
                for message in decode(raw):
                    with self._lock:
                        self._apply(message)
        except Exception:  # connection closed
            pass

    def _apply(self, m: dict) -> None:
        kind = m["type"]
        self.updates += 1
        if kind.endswith("Message") and "name" in m and "props" in m:
            self.nodes[m["name"]] = m
        elif kind == "SetPositionMessage":
            self.position[m["name"]] = np.asarray(m["position"], float)
        elif kind == "SetOrientationMessage":
            self.wxyz[m["name"]] = np.asarray(m["wxyz"], float)
        elif kind == "SetSceneNodeVisibilityMessage":
            self.visible[m["name"]] = bool(m["visible"])
        elif kind == "SceneNodeUpdateMessage" and m["name"] in self.nodes:
            self.nodes[m["name"]]["props"].update(m["updates"])
        elif kind.startswith("Gui") and "uuid" in m and "props" in m:
            self.gui[m["props"].get("label", m["uuid"])] = m
        elif kind == "GuiUpdateMessage":
            for entry in self.gui.values():
                if entry["uuid"] == m["uuid"]:
                    for key, value in m["updates"].items():
                        (entry if key == "value" else entry["props"])[key] = value

    def wait_for(self, predicate, timeout: float = 10.0) -> None:
        """Wait until ``predicate(self)`` holds (raises on timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if predicate(self):
                    return
            time.sleep(0.02)
        raise TimeoutError("the viewer did not send what was expected")

    def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until no message arrived for ``quiet`` seconds."""
        end = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < end:
            if self.updates != last:
                last, since = self.updates, time.monotonic()
            elif time.monotonic() - since > quiet:
                return
            time.sleep(0.02)

    def move(self, label: str, value: float) -> None:
        """Move GUI element ``label`` to ``value`` as a user in the browser does."""
        uuid = self.gui[label]["uuid"]
        self._send({"type": "GuiUpdateMessage", "uuid": uuid, "updates": {"value": value}})

    def pose(self, name: str) -> np.ndarray:
        """Latest 4x4 pose of scene node ``name`` (identity where none was sent)."""
        from scipy.spatial.transform import Rotation

        out = np.eye(4)
        with self._lock:
            if name in self.wxyz:
                out[:3, :3] = Rotation.from_quat(self.wxyz[name], scalar_first=True).as_matrix()
            if name in self.position:
                out[:3, 3] = self.position[name]
        return out

    def shown(self, name: str) -> bool:
        """Whether scene node ``name`` is visible (nodes start visible)."""
        with self._lock:
            return self.visible.get(name, True)

    def close(self) -> None:
        self.ws.close()
        self._thread.join(timeout=5)
