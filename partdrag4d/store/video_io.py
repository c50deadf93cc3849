"""Video and frame-folder I/O: H.264 MP4 through PyAV, and folders of PNG frames.

MP4 files are for people to watch (lossy, yuv420p); the lossless canonical payload of a
``VideoSet`` is its PNG frames (see :mod:`partdrag4d.store.serialize`).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from jaxtyping import UInt8
from PIL import Image

FRAME_GLOB = "frame_*.png"


def frame_name(t: int, num_frames: int) -> str:
    """File name of frame ``t`` in a clip of ``num_frames`` frames (zero-padded, >= 3 digits)."""
    digits = max(3, len(str(max(num_frames - 1, 0))))
    return f"frame_{t:0{digits}d}.png"


def write_png(image: UInt8[np.ndarray, "H W C"], path: Path) -> None:
    """Write an 8-bit RGB/RGBA/gray image losslessly (fast zlib level: these are caches)."""
    Image.fromarray(np.ascontiguousarray(image)).save(path, compress_level=1)


def read_png(path: Path) -> UInt8[np.ndarray, "H W 3"]:
    """Read a PNG as RGB uint8."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def write_frames_dir(frames: UInt8[np.ndarray, "T H W 3"], directory: Path) -> list[Path]:
    """Write one PNG per frame into ``directory`` (created) as ``frame_YYY.png``.

    Returns:
        The written paths in frame order.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, frame in enumerate(frames):
        path = directory / frame_name(t, len(frames))
        write_png(frame, path)
        paths.append(path)
    return paths


def read_frames_dir(directory: Path | str) -> UInt8[np.ndarray, "T H W 3"]:
    """Read all ``frame_*.png`` of a folder, in name order (zero padding makes it time order).

    Raises:
        FileNotFoundError: when the folder holds no frames.
    """
    paths = sorted(Path(directory).glob(FRAME_GLOB))
    if not paths:
        raise FileNotFoundError(f"{directory}: no {FRAME_GLOB} files")
    return np.stack([read_png(p) for p in paths])


def _pad_even(frames: UInt8[np.ndarray, "T H W 3"]) -> UInt8[np.ndarray, "T H2 W2 3"]:
    """Edge-pad bottom/right to even sizes: yuv420p subsamples chroma by 2 in x and y."""
    _, h, w, _ = frames.shape
    if h % 2 == 0 and w % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_mp4(
    frames: UInt8[np.ndarray, "T H W 3"], path: Path | str, fps: float | int, crf: int = 18
) -> Path:
    """Encode RGB frames as H.264 (libx264, yuv420p) MP4.

    Odd heights/widths are edge-padded by one pixel at the bottom/right (yuv420p needs
    even sizes); :func:`read_mp4` with ``size`` crops it back.

    Args:
        frames: sRGB frames.
        path: output ``.mp4`` path (parent folder must exist).
        fps: frames per second (stored as a rational with denominator <= 1001).
        crf: x264 constant rate factor (lower = better; 18 is visually lossless).

    Returns:
        ``path``.
    """
    padded = _pad_even(np.ascontiguousarray(frames))
    _, h, w, _ = padded.shape
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in padded:
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))  # flush delayed frames
    return Path(path)


def read_mp4(path: Path | str, size: tuple[int, int] | None = None) -> UInt8[np.ndarray, "T H W 3"]:
    """Decode all frames of a video file as RGB uint8.

    Args:
        path: video file.
        size: optional ``(height, width)`` to crop to (undoes the even-size padding of
            :func:`write_mp4`).

    Returns:
        The decoded frames.
    """
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    out = np.stack(frames)
    if size is not None:
        out = out[:, : size[0], : size[1]]
    return np.ascontiguousarray(out)
