"""Placed things and the rendering of one frame (image + panoptic id map).

The panoptic id map and the picture come from the same rasterised pixel sets,
so the ground truth is exact: a thing's pixels are what ``cv2.fillPoly``
covered, minus what things later in the z-order cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from panoptic.data.panoptic_io import VOID_ID, segments_stats
from panoptic.data.synthetic.config import SyntheticConfig
from panoptic.data.synthetic.shapes import rasterize_polygon, shape_polygon

# Thing segment ids are category_id * THING_ID_BASE + instance number; stuff ids
# are the category id itself.
THING_ID_BASE = 1000


@dataclass
class Thing:
    """One thing (or crowd region) at one moment.

    Attributes:
        segment_id: panoptic segment id, constant over a video.
        category_id: dataset category id.
        shape: shape name.
        center: (x, y) in pixels.
        radius: circumradius in pixels.
        angle: rotation in degrees.
        color_bgr: (3,) float fill colour.
        shade_dir: direction of the shading gradient in radians.
        iscrowd: a crowd region drawn as several small copies of the shape.
        parts: (P, 4) offsets (dx, dy) in units of ``radius``, relative radius
            and extra angle of each copy; one row ``(0, 0, 1, 0)`` for a thing.
    """

    segment_id: int
    category_id: int
    shape: str
    center: tuple[float, float]
    radius: float
    angle: float
    color_bgr: np.ndarray
    shade_dir: float
    iscrowd: bool = False
    parts: np.ndarray = field(default_factory=lambda: np.array([[0.0, 0.0, 1.0, 0.0]]))

    def polygons(self) -> list[np.ndarray]:
        """Pixel polygons (V, 2) of every part."""
        polys = []
        for dx, dy, rel_radius, extra_angle in self.parts:
            center = (self.center[0] + dx * self.radius, self.center[1] + dy * self.radius)
            polys.append(
                shape_polygon(
                    self.shape, center, self.radius * rel_radius, self.angle + extra_angle
                )
            )
        return polys


@dataclass
class SyntheticFrame:
    """One rendered image (or video frame) with its exact panoptic annotation.

    Attributes:
        image: (H, W, 3) uint8 BGR.
        id_map: (H, W) int32 segment ids, 0 = VOID.
        segments: COCO panoptic segment dicts (id, category_id, iscrowd, isthing,
            area, bbox) sorted by id.
        full_areas: segment id -> pixels the thing would cover inside the frame
            with nothing in front of it (occlusion = full area > area).
    """

    image: np.ndarray
    id_map: np.ndarray
    segments: list[dict[str, Any]]
    full_areas: dict[int, int]


def random_color_bgr(rng: np.random.Generator) -> np.ndarray:
    """A saturated random colour (3,) float BGR."""
    hsv = np.array(
        [[[rng.integers(0, 180), rng.integers(140, 256), rng.integers(120, 256)]]], np.uint8
    )
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def render_frame(
    config: SyntheticConfig,
    rng: np.random.Generator,
    stuff_labels: np.ndarray,
    stuff_img: np.ndarray,
    things: list[Thing],
    void_polygons: list[np.ndarray],
) -> SyntheticFrame:
    """Compose stuff, things (back to front) and VOID blobs into one frame.

    Args:
        config: generator parameters (categories, ``min_visible_area``).
        rng: source of the pixel noise.
        stuff_labels: (H, W) int stuff class indices (0..S-1).
        stuff_img: (H, W, 3) float BGR stuff picture.
        things: things in z-order, the last one on top.
        void_polygons: polygons (V, 2) whose pixels become VOID.

    Returns:
        The rendered frame.
    """
    height, width = stuff_labels.shape
    num_things = len(config.thing_classes)
    stuff_ids = np.arange(num_things + 1, num_things + 1 + len(config.stuff_classes))
    id_map = stuff_ids[stuff_labels].astype(np.int32)
    img = stuff_img.astype(np.float32, copy=True)
    full_areas: dict[int, int] = {}
    seg_info: dict[int, tuple[int, bool]] = {}
    for thing in things:
        area = 0
        for polygon in thing.polygons():
            raster = rasterize_polygon(polygon, height, width)
            if raster is None:
                continue
            mask, (y0, x0) = raster
            h, w = mask.shape
            yy, xx = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
            proj = (xx - thing.center[0]) * np.cos(thing.shade_dir)
            proj += (yy - thing.center[1]) * np.sin(thing.shade_dir)
            shade = 1.0 + 0.25 * np.clip(proj / max(thing.radius, 1.0), -1, 1)
            window_img = img[y0 : y0 + h, x0 : x0 + w]
            window_img[mask] = (shade[..., None] * thing.color_bgr)[mask]
            window_ids = id_map[y0 : y0 + h, x0 : x0 + w]
            area += int(np.count_nonzero(mask & (window_ids != thing.segment_id)))
            window_ids[mask] = thing.segment_id
        if area:
            full_areas[thing.segment_id] = area
            seg_info[thing.segment_id] = (thing.category_id, thing.iscrowd)
    for polygon in void_polygons:
        raster = rasterize_polygon(polygon, height, width)
        if raster is not None:
            mask, (y0, x0) = raster
            id_map[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]][mask] = VOID_ID
            img[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]][mask] = 90.0
    img += rng.normal(0.0, 3.0, img.shape).astype(np.float32)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    stats = segments_stats(id_map)
    too_small = [
        i for i, (area, _) in stats.items() if i in seg_info and area < config.min_visible_area
    ]
    if too_small:
        id_map[np.isin(id_map, too_small)] = VOID_ID
    segments = []
    for seg_id, (area, bbox) in sorted(stats.items()):
        if seg_id in too_small:
            continue
        category_id, iscrowd = seg_info.get(seg_id, (seg_id, False))
        isthing = int(seg_id in seg_info)
        segments.append(
            dict(
                id=seg_id,
                category_id=category_id,
                iscrowd=int(iscrowd),
                isthing=isthing,
                area=area,
                bbox=bbox,
            )
        )
    visible = {s["id"] for s in segments}
    return SyntheticFrame(
        image=image,
        id_map=id_map,
        segments=segments,
        full_areas={k: v for k, v in full_areas.items() if k in visible},
    )
