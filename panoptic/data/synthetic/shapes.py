"""Thing shapes as polygons, and their exact rasterisation.

Each shape is a polygon around the origin with circumradius 1; a thing scales,
rotates and moves it. Rasterising with ``cv2.fillPoly`` at sub-pixel precision
gives the exact pixel set used for both the image and the panoptic map.
"""

from __future__ import annotations

import cv2
import numpy as np

SUBPIXEL_BITS = 4


def _regular(num_vertices: int, phase: float = 0.0) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(num_vertices) / num_vertices
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(num_points: int, inner: float) -> np.ndarray:
    angles = -np.pi / 2 + np.pi * np.arange(2 * num_points) / num_points
    radii = np.where(np.arange(2 * num_points) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _cross(arm: float) -> np.ndarray:
    a = arm
    pts = [(-a, -1), (a, -1), (a, -a), (1, -a), (1, a), (a, a), (a, 1), (-a, 1)]
    pts += [(-a, a), (-1, a), (-1, -a), (-a, -a)]
    return np.array(pts, dtype=np.float64) / np.hypot(1, a)


# Unit polygons (V, 2) in (x, y), circumradius 1.
SHAPES: dict[str, np.ndarray] = {
    "circle": _regular(40),
    "square": _regular(4, np.pi / 4),
    "triangle": _regular(3, -np.pi / 2),
    "star": _star(5, 0.45),
    "hexagon": _regular(6),
    "diamond": _regular(4) * np.array([0.6, 1.0]),
    "cross": _cross(0.35),
}


def shape_polygon(
    name: str, center: tuple[float, float], radius: float, angle_deg: float
) -> np.ndarray:
    """Vertices (V, 2) in pixel (x, y) of a placed shape."""
    theta = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return SHAPES[name] @ rot.T * radius + np.asarray(center, dtype=np.float64)


def rasterize_polygon(
    polygon: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Pixels covered by a polygon, clipped to the image, in a local window.

    Args:
        polygon: (V, 2) vertices in pixel (x, y); pixel centres sit at integers.
        height: image height.
        width: image width.

    Returns:
        ``(mask, (y0, x0))``: a (h, w) bool mask of the polygon's clipped
        bounding window and its top-left corner, or None when nothing of the
        polygon lies inside the image.
    """
    x0 = max(int(np.floor(polygon[:, 0].min())), 0)
    y0 = max(int(np.floor(polygon[:, 1].min())), 0)
    x1 = min(int(np.ceil(polygon[:, 0].max())) + 1, width)
    y1 = min(int(np.ceil(polygon[:, 1].max())) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    local = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    pts = np.round((polygon - (x0, y0)) * (1 << SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(local, [pts], 1, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    mask = local.astype(bool)
    if not mask.any():
        return None
    return mask, (y0, x0)
