"""Synthetic panoptic images, each fully determined by (config, seed, index)."""

from __future__ import annotations

import numpy as np

from panoptic.data.synthetic.config import SyntheticConfig
from panoptic.data.synthetic.scene import (
    THING_ID_BASE,
    SyntheticFrame,
    Thing,
    random_color_bgr,
    render_frame,
)
from panoptic.data.synthetic.stuff import blob_polygon, stuff_layout, stuff_texture


def sample_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The random stream of one sample; independent of every other (seed, index)."""
    return np.random.default_rng([seed, index, stream])


class InstanceCounter:
    """Hands out segment ids ``category_id * 1000 + n`` with n counting per category."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def next_id(self, category_id: int) -> int:
        n = self._counts.get(category_id, 0) + 1
        if n >= THING_ID_BASE:
            raise ValueError(f"more than {THING_ID_BASE - 1} instances of category {category_id}")
        self._counts[category_id] = n
        return category_id * THING_ID_BASE + n


def sample_crowd_parts(rng: np.random.Generator) -> np.ndarray:
    """(P, 4) parts of a crowd region: small copies packed around the centre."""
    num_parts = int(rng.integers(5, 10))
    angles = rng.uniform(0, 2 * np.pi, num_parts)
    dist = rng.uniform(0.0, 0.75, num_parts)
    rel_radius = rng.uniform(0.22, 0.35, num_parts)
    extra_angle = rng.uniform(0, 360, num_parts)
    return np.stack([dist * np.cos(angles), dist * np.sin(angles), rel_radius, extra_angle], 1)


def sample_things(
    config: SyntheticConfig,
    rng: np.random.Generator,
    counter: InstanceCounter,
    num_things: int,
    height: int,
    width: int,
) -> list[Thing]:
    """Things in z-order (last on top), some touching, some overlapping.

    A crowd region (with probability ``config.crowd_prob``) sits at the back.
    """
    things: list[Thing] = []
    if rng.random() < config.crowd_prob:
        label = int(rng.integers(len(config.thing_classes)))
        things.append(
            Thing(
                segment_id=counter.next_id(label + 1),
                category_id=label + 1,
                shape=config.thing_classes[label],
                center=(rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height),
                radius=rng.uniform(14, 22),
                angle=0.0,
                color_bgr=random_color_bgr(rng),
                shade_dir=rng.uniform(0, 2 * np.pi),
                iscrowd=True,
                parts=sample_crowd_parts(rng),
            )
        )
    singles: list[Thing] = []
    for _ in range(num_things):
        label = int(rng.integers(len(config.thing_classes)))
        radius = rng.uniform(*config.thing_size) / 2
        if singles and rng.random() < config.touch_prob:
            other = singles[int(rng.integers(len(singles)))]
            phi = rng.uniform(0, 2 * np.pi)
            dist = (other.radius + radius) * rng.uniform(0.75, 0.95)
            center = (other.center[0] + dist * np.cos(phi), other.center[1] + dist * np.sin(phi))
        else:
            margin = 0.3 * radius
            center = (rng.uniform(margin, width - margin), rng.uniform(margin, height - margin))
        thing = Thing(
            segment_id=counter.next_id(label + 1),
            category_id=label + 1,
            shape=config.thing_classes[label],
            center=center,
            radius=radius,
            angle=rng.uniform(0, 360),
            color_bgr=random_color_bgr(rng),
            shade_dir=rng.uniform(0, 2 * np.pi),
        )
        singles.append(thing)
    return things + singles


def sample_void_polygons(
    config: SyntheticConfig, rng: np.random.Generator, height: int, width: int
) -> list[np.ndarray]:
    """Small irregular VOID blobs."""
    num = int(rng.integers(config.num_void_blobs[0], config.num_void_blobs[1] + 1))
    return [
        blob_polygon(
            rng,
            (rng.uniform(0, width), rng.uniform(0, height)),
            rng.uniform(*config.void_blob_radius),
            num_vertices=12,
        )
        for _ in range(num)
    ]


def generate_image(config: SyntheticConfig, seed: int, index: int) -> SyntheticFrame:
    """Render synthetic image ``index`` of the split drawn with ``seed``.

    Args:
        config: generator parameters.
        seed: split seed.
        index: image index inside the split.

    Returns:
        The image, its id map and segments; identical for identical arguments.
    """
    rng = sample_rng(seed, index)
    height, width = config.img_size
    labels = stuff_layout(rng, len(config.stuff_classes), height, width, config.pond_prob)
    stuff_img = stuff_texture(rng, config.stuff_classes, labels)
    num_things = int(rng.integers(config.num_things[0], config.num_things[1] + 1))
    things = sample_things(config, rng, InstanceCounter(), num_things, height, width)
    voids = sample_void_polygons(config, rng, height, width)
    return render_frame(config, rng, labels, stuff_img, things, voids)
