"""Stuff regions: an irregular layered layout and a texture per class.

Stuff classes are stacked top to bottom in bands separated by wavy
boundaries (sums of random sinusoids); an optional irregular "pond" of one
stuff class cuts into the bands. Layout and texture are made on a canvas that
may be wider than the image so that videos can pan across it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from panoptic.data.synthetic.shapes import rasterize_polygon

TextureFn = Callable[[np.random.Generator, np.ndarray, np.ndarray], np.ndarray]


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """(H, W) float32 noise of unit scale, smooth over about ``cell`` pixels."""
    coarse = rng.standard_normal((height // cell + 3, width // cell + 3)).astype(np.float32)
    big = cv2.resize(coarse, ((width // cell + 3) * cell, (height // cell + 3) * cell))
    return big[cell : cell + height, cell : cell + width]


def _jitter(rng: np.random.Generator, bgr: tuple[int, int, int], amount: float) -> np.ndarray:
    return np.clip(np.asarray(bgr, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _sky(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    h, w = yy.shape
    top, bottom = _jitter(rng, (190, 120, 60), 20), _jitter(rng, (240, 215, 170), 15)
    frac = (yy / max(h - 1, 1))[..., None]
    img = top * (1 - frac) + bottom * frac
    clouds = np.clip(smooth_noise(rng, h, w, 24), 0, None)[..., None]
    return img + 45 * clouds


def _ground(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    h, w = yy.shape
    base = _jitter(rng, (60, 95, 125), 15)
    blotch = smooth_noise(rng, h, w, 12)[..., None]
    grain = rng.normal(0, 10, (h, w, 1)).astype(np.float32)
    return base + 18 * blotch + grain


def _water(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    h, w = yy.shape
    base = _jitter(rng, (150, 100, 30), 15)
    wobble = 3 * smooth_noise(rng, h, w, 16)
    waves = np.sin(yy * rng.uniform(0.5, 0.9) + wobble)[..., None]
    return base + 22 * waves + rng.normal(0, 4, (h, w, 1)).astype(np.float32)


def _grass(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    h, w = yy.shape
    base = _jitter(rng, (50, 150, 60), 15)
    streaks = cv2.resize(rng.normal(0, 1, (max(h // 6, 1), w)).astype(np.float32), (w, h))
    return base + 25 * streaks[..., None] + rng.normal(0, 6, (h, w, 1)).astype(np.float32)


def _sand(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    h, w = yy.shape
    base = _jitter(rng, (140, 200, 230), 12)
    ripples = np.sin(0.35 * xx + 0.2 * yy + 2 * smooth_noise(rng, h, w, 20))[..., None]
    return base + 10 * ripples + rng.normal(0, 7, (h, w, 1)).astype(np.float32)


# Texture recipes by stuff class name; each returns (H, W, 3) float BGR.
TEXTURES: dict[str, TextureFn] = {
    "sky": _sky,
    "ground": _ground,
    "water": _water,
    "grass": _grass,
    "sand": _sand,
}


def _wavy_curve(rng: np.random.Generator, width: int, base: float, amplitude: float) -> np.ndarray:
    xs = np.arange(width, dtype=np.float64)
    curve = np.full(width, base)
    for _ in range(3):
        period = rng.uniform(20, 140)
        curve += (
            rng.uniform(0.2, 1.0)
            * amplitude
            * np.sin(2 * np.pi * xs / period + rng.uniform(0, 6.3))
        )
    return curve


def blob_polygon(
    rng: np.random.Generator, center: tuple[float, float], radius: float, num_vertices: int = 24
) -> np.ndarray:
    """An irregular closed blob (V, 2) in pixel (x, y) around ``center``."""
    angles = 2 * np.pi * np.arange(num_vertices) / num_vertices
    radii = radius * (1 + 0.25 * np.sin(angles * rng.integers(2, 5) + rng.uniform(0, 6.3)))
    radii *= rng.uniform(0.8, 1.2, num_vertices)
    return np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], 1)


def stuff_layout(
    rng: np.random.Generator, num_classes: int, height: int, width: int, pond_prob: float
) -> np.ndarray:
    """(H, W) int64 map of stuff class indices (0..S-1).

    Class 0 is on top; each band's height is random and may shrink to nothing,
    so not every image shows every class.
    """
    weights = rng.uniform(0.3, 1.5, num_classes)
    if num_classes > 1 and rng.random() < 0.2:
        weights[rng.integers(num_classes)] = 0.0
    bounds = np.cumsum(weights / weights.sum())[:-1] * height
    yy = np.arange(height)[:, None]
    labels = np.zeros((height, width), dtype=np.int64)
    for base in bounds:
        curve = _wavy_curve(rng, width, base, amplitude=0.06 * height)
        labels += yy >= curve[None, :]
    if num_classes > 1 and rng.random() < pond_prob:
        center = (rng.uniform(0, width), rng.uniform(0.4 * height, height))
        radius = rng.uniform(0.1, 0.25) * min(height, width)
        raster = rasterize_polygon(blob_polygon(rng, center, radius), height, width)
        if raster is not None:
            mask, (y0, x0) = raster
            window = labels[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]]
            window[mask] = rng.integers(num_classes)
    return labels


def stuff_texture(
    rng: np.random.Generator, class_names: tuple[str, ...], labels: np.ndarray
) -> np.ndarray:
    """(H, W, 3) float32 BGR picture of a stuff layout."""
    h, w = labels.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), dtype=np.float32)
    for k, name in enumerate(class_names):
        texture = TEXTURES[name](rng, yy, xx)
        where = labels == k
        img[where] = texture[where]
    return img
