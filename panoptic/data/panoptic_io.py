"""Reading and writing the COCO panoptic on-disk format.

A panoptic PNG stores a segment id per pixel as ``id = R + 256 G + 256^2 B``
(0 = VOID). Every reader here raises an error that names the file and what is
wrong with it; nothing is skipped silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

VOID_ID = 0
IGNORE_INDEX = 255


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """Decode an (H, W, 3) RGB panoptic image into an (H, W) int32 id map."""
    rgb = rgb.astype(np.int32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def id2rgb(id_map: np.ndarray) -> np.ndarray:
    """Encode an (H, W) id map into an (H, W, 3) uint8 RGB panoptic image."""
    ids = id_map.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= 256**3):
        raise ValueError("panoptic ids must lie in [0, 256^3)")
    rgb = np.stack([ids % 256, (ids // 256) % 256, ids // (256 * 256)], axis=-1)
    return rgb.astype(np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """Read a colour image as (H, W, 3) uint8 BGR.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file exists but cannot be decoded as an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot decode image file (corrupt or not an image): {path}")
    return img


def read_panoptic_png(path: str | Path) -> np.ndarray:
    """Read a panoptic PNG into an (H, W) int32 id map (0 = VOID).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded or is not a 3-channel image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"panoptic PNG not found: {path}")
    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if bgr is None:
        raise ValueError(f"cannot decode panoptic PNG (corrupt or not an image): {path}")
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(
            f"panoptic PNG must be 8-bit RGB, got shape {bgr.shape} dtype {bgr.dtype}: {path}"
        )
    return rgb2id(bgr[..., ::-1])


def write_panoptic_png(path: str | Path, id_map: np.ndarray) -> None:
    """Write an (H, W) id map as a panoptic PNG (creates parent folders)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), id2rgb(id_map)[..., ::-1]):
        raise OSError(f"cannot write panoptic PNG: {path}")


def write_image(path: str | Path, img_bgr: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 BGR image; the suffix picks the format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img_bgr):
        raise OSError(f"cannot write image: {path}")


def load_json(path: str | Path) -> dict[str, Any]:
    """Load an annotation JSON, naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"annotation file is not valid JSON ({err}): {path}") from err
    if not isinstance(data, dict):
        raise ValueError(f"annotation file must hold a JSON object at the top level: {path}")
    return data


def segment_bbox(mask: np.ndarray) -> list[int]:
    """Tight COCO box (x, y, w, h) of an (H, W) bool mask; zeros when empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return [0, 0, 0, 0]
    return [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]


def segments_stats(id_map: np.ndarray) -> dict[int, tuple[int, list[int]]]:
    """Area and COCO box of every non-VOID id of an (H, W) id map.

    Returns:
        ``{segment id: (area in pixels, [x, y, w, h])}``.
    """
    ids, inverse, counts = np.unique(id_map, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(id_map.shape)
    rows = np.arange(id_map.shape[0])
    cols = np.arange(id_map.shape[1])
    stats: dict[int, tuple[int, list[int]]] = {}
    for k, seg_id in enumerate(ids.tolist()):
        if seg_id == VOID_ID:
            continue
        mask = inverse == k
        ys = rows[mask.any(axis=1)]
        xs = cols[mask.any(axis=0)]
        box = [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]
        stats[int(seg_id)] = (int(counts[k]), box)
    return stats
