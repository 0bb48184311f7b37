"""Panoptic overlays: segment colours, outlines, class names and instance ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from panoptic.data.categories import default_color


def segment_color(segment: dict[str, Any], category: dict[str, Any] | None) -> np.ndarray:
    """(3,) uint8 BGR colour: the category colour, shifted per instance for things."""
    rgb = np.array(
        category["color"]
        if category and "color" in category
        else default_color(segment["category_id"]),
        dtype=np.int64,
    )
    if segment.get("isthing", category["isthing"] if category else 0):
        key = int(segment.get("instance_id", segment["id"]))
        shift = np.random.default_rng(key).integers(-60, 61, 3)
        rgb = np.clip(rgb + shift, 0, 255)
    return rgb[::-1].astype(np.uint8)


def segment_caption(segment: dict[str, Any], category: dict[str, Any] | None) -> str:
    """``name`` for stuff, ``name #id`` for things (track id when present)."""
    name = category["name"] if category else f"cat{segment['category_id']}"
    isthing = segment.get("isthing", category["isthing"] if category else 0)
    if not isthing:
        return name
    caption = f"{name} #{segment.get('instance_id', segment['id'])}"
    if segment.get("iscrowd"):
        caption += " crowd"
    if "score" in segment:
        caption += f" {segment['score']:.2f}"
    return caption


def draw_panoptic(
    image_bgr: np.ndarray,
    id_map: np.ndarray,
    segments: Sequence[dict[str, Any]],
    categories: Sequence[dict[str, Any]],
    alpha: float = 0.55,
    scale: float = 1.0,
    captions: bool = True,
) -> np.ndarray:
    """Blend segment colours over an image, outline segments and caption them.

    Args:
        image_bgr: (H, W, 3) uint8 (or float) BGR image at the id map's size.
        id_map: (H, W) int segment ids, 0 = VOID (left uncoloured).
        segments: segment dicts with ``id``, ``category_id`` and optionally
            ``isthing``, ``iscrowd``, ``instance_id``, ``score``.
        categories: category dicts (``id``, ``name``, ``isthing``, ``color``).
        alpha: weight of the segment colour.
        scale: upscale factor of the output (nearest for the map), so small
            images stay readable.
        captions: write class names and instance ids.

    Returns:
        (H * scale, W * scale, 3) uint8 BGR picture.
    """
    id_map = np.asarray(id_map)
    image: np.ndarray = np.clip(np.asarray(image_bgr, dtype=np.float32), 0, 255).astype(np.uint8)
    if image.shape[:2] != id_map.shape:
        raise ValueError(f"image {image.shape[:2]} and id map {id_map.shape} differ in size")
    if scale != 1.0:
        size = (round(id_map.shape[1] * scale), round(id_map.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        id_map = cv2.resize(id_map.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    cats = {int(c["id"]): c for c in categories}
    color_map = np.zeros_like(image)
    colored = np.zeros(id_map.shape, dtype=bool)
    for seg in segments:
        mask = id_map == seg["id"]
        color_map[mask] = segment_color(seg, cats.get(int(seg["category_id"])))
        colored |= mask
    out = image.copy()
    blend = (1 - alpha) * image[colored] + alpha * color_map[colored].astype(np.float32)
    out[colored] = blend.astype(np.uint8)
    edges = np.zeros(id_map.shape, dtype=bool)
    edges[:, 1:] |= id_map[:, 1:] != id_map[:, :-1]
    edges[1:, :] |= id_map[1:, :] != id_map[:-1, :]
    out[edges] = (255, 255, 255)
    if captions:
        for seg in segments:
            ys, xs = np.nonzero(id_map == seg["id"])
            if ys.size == 0:
                continue
            k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
            text = segment_caption(seg, cats.get(int(seg["category_id"])))
            (text_w, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
            org = (int(xs[k]) - text_w // 2, int(ys[k]) + text_h // 2)
            top_left = (org[0] - 1, org[1] - text_h - 2)
            cv2.rectangle(out, top_left, (org[0] + text_w + 1, org[1] + 2), (0, 0, 0), -1)
            cv2.putText(
                out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA
            )
    return out
