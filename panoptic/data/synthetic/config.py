"""Parameters of the synthetic panoptic generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from panoptic.data.categories import category_metainfo
from panoptic.data.synthetic.shapes import SHAPES
from panoptic.data.synthetic.stuff import TEXTURES

# Fixed colours (RGB) per class name, used for the category ``color``; other
# names fall back to a hashed colour.
CATEGORY_COLORS: dict[str, list[int]] = {
    "circle": [220, 20, 60],
    "square": [0, 130, 255],
    "triangle": [255, 200, 0],
    "star": [160, 32, 240],
    "hexagon": [0, 200, 120],
    "cross": [255, 110, 180],
    "diamond": [140, 90, 40],
    "sky": [135, 206, 235],
    "ground": [139, 115, 85],
    "water": [30, 90, 160],
    "grass": [60, 160, 60],
    "sand": [230, 200, 140],
}


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that shapes a synthetic panoptic image or video.

    A sample is fully determined by ``(config, seed, index)``.

    Attributes:
        img_size: (height, width) of every image in pixels.
        thing_classes: shape names (see ``panoptic.data.synthetic.shapes.SHAPES``);
            category ids ``1..T`` in this order.
        stuff_classes: stuff names (see ``panoptic.data.synthetic.stuff.TEXTURES``),
            stacked top to bottom; category ids ``T+1..T+S``.
        num_things: inclusive range of things per image (crowd regions excluded).
        thing_size: inclusive range of thing diameters in pixels.
        touch_prob: chance that a thing is placed touching an earlier one.
        min_visible_area: a thing (or part of one) with fewer visible pixels
            becomes VOID.
        num_void_blobs: inclusive range of small VOID blobs per image.
        void_blob_radius: inclusive range of their radii in pixels.
        crowd_prob: chance that an image holds one crowd region (a tight
            cluster of small things of one class annotated as one segment).
        pond_prob: chance of an extra irregular blob of a random stuff class.
        num_frames: frames per video.
        max_speed: largest thing speed in pixels per frame (videos).
        max_spin: largest rotation speed in degrees per frame (videos).
        max_zoom: largest relative scale change per frame (videos).
        pan_speed: inclusive range of the stuff panning speed, pixels per frame.
        num_entering: inclusive range of things that enter the frame per video.
        num_leaving: inclusive range of things that leave the frame per video.
    """

    img_size: tuple[int, int] = (160, 160)
    thing_classes: tuple[str, ...] = ("circle", "square", "triangle", "star")
    stuff_classes: tuple[str, ...] = ("sky", "ground", "water")
    num_things: tuple[int, int] = (2, 8)
    thing_size: tuple[int, int] = (12, 50)
    touch_prob: float = 0.3
    min_visible_area: int = 24
    num_void_blobs: tuple[int, int] = (0, 3)
    void_blob_radius: tuple[int, int] = (2, 5)
    crowd_prob: float = 0.1
    pond_prob: float = 0.4
    num_frames: int = 8
    max_speed: float = 4.0
    max_spin: float = 4.0
    max_zoom: float = 0.02
    pan_speed: tuple[float, float] = (0.5, 1.5)
    num_entering: tuple[int, int] = (1, 2)
    num_leaving: tuple[int, int] = (1, 2)

    def __post_init__(self) -> None:
        for name in self.thing_classes:
            if name not in SHAPES:
                raise ValueError(f"unknown thing class '{name}'; known: {sorted(SHAPES)}")
        for name in self.stuff_classes:
            if name not in TEXTURES:
                raise ValueError(f"unknown stuff class '{name}'; known: {sorted(TEXTURES)}")
        if len(self.thing_classes) < 1 or len(self.stuff_classes) < 1:
            raise ValueError("need at least one thing class and one stuff class")
        for name in ("num_things", "thing_size", "num_void_blobs", "void_blob_radius"):
            low, high = getattr(self, name)
            if low > high or low < 0:
                raise ValueError(
                    f"{name} must be an increasing non-negative range, got {low, high}"
                )

    @property
    def categories(self) -> list[dict[str, Any]]:
        """COCO panoptic category dicts: things ``1..T`` then stuff."""
        names = [(n, 1) for n in self.thing_classes] + [(n, 0) for n in self.stuff_classes]
        cats = []
        for k, (name, isthing) in enumerate(names):
            cat: dict[str, Any] = dict(id=k + 1, name=name, isthing=isthing, supercategory=name)
            if name in CATEGORY_COLORS:
                cat["color"] = list(CATEGORY_COLORS[name])
            cats.append(cat)
        return cats

    @property
    def metainfo(self) -> dict[str, Any]:
        """Dataset metainfo (see :func:`panoptic.data.categories.category_metainfo`)."""
        return category_metainfo(self.categories)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SyntheticConfig:
        """Build from config values, turning lists (as configs write them) into tuples."""
        fixed: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()
        }
        if isinstance(fixed.get("img_size"), int):
            fixed["img_size"] = (fixed["img_size"], fixed["img_size"])
        return cls(**fixed)
