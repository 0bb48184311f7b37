"""Writing a sequence of frames as an animated GIF."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def write_gif(frames_bgr: Sequence[np.ndarray], path: str | Path, fps: float = 4.0) -> Path:
    """Write (H, W, 3) uint8 BGR frames as a looping GIF.

    Args:
        frames_bgr: frames of equal size.
        path: output file (parent folders are created).
        fps: frames per second.

    Returns:
        The written path.
    """
    if not frames_bgr:
        raise ValueError(f"no frames to write to {path}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(np.ascontiguousarray(f[..., ::-1])) for f in frames_bgr]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path
