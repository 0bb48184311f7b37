"""Synthetic panoptic videos: moving, spinning, zooming things over panning stuff.

Every thing keeps its segment id over the whole video. Some things start
outside the frame and enter it, some start inside and leave it; the others
drift and cross each other, so z-order produces changing occlusions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from panoptic.data.synthetic.config import SyntheticConfig
from panoptic.data.synthetic.image_generator import (
    InstanceCounter,
    sample_rng,
    sample_things,
    sample_void_polygons,
)
from panoptic.data.synthetic.scene import SyntheticFrame, Thing, render_frame
from panoptic.data.synthetic.stuff import stuff_layout, stuff_texture

# The pixel noise of frame t comes from random stream FRAME_STREAM + t.
FRAME_STREAM = 100


@dataclass
class Motion:
    """Per-frame change of one thing.

    The thing moves with ``velocity`` (px per frame) until frame ``settle`` and
    with ``drift`` afterwards; it spins by ``spin`` degrees and scales by
    ``1 + zoom`` per frame.
    """

    velocity: tuple[float, float]
    spin: float
    zoom: float
    settle: float = float("inf")
    drift: tuple[float, float] = (0.0, 0.0)


def thing_at(thing: Thing, motion: Motion, t: int) -> Thing:
    """The thing ``t`` frames after its initial placement."""
    fast, slow = min(t, motion.settle), max(t - motion.settle, 0.0)
    center = (
        thing.center[0] + motion.velocity[0] * fast + motion.drift[0] * slow,
        thing.center[1] + motion.velocity[1] * fast + motion.drift[1] * slow,
    )
    return replace(
        thing,
        center=center,
        angle=thing.angle + motion.spin * t,
        radius=thing.radius * (1.0 + motion.zoom) ** t,
    )


def _border_point(
    rng: np.random.Generator, side: int, height: int, width: int, outside: float
) -> tuple[float, float]:
    """A point ``outside`` pixels beyond one image side (0 left, 1 right, 2 top, 3 bottom)."""
    if side == 0:
        return (-outside, rng.uniform(0, height))
    if side == 1:
        return (width - 1 + outside, rng.uniform(0, height))
    if side == 2:
        return (rng.uniform(0, width), -outside)
    return (rng.uniform(0, width), height - 1 + outside)


def _max_radius(thing: Thing, zoom: float, num_frames: int) -> float:
    return thing.radius * max(1.0, (1.0 + zoom) ** (num_frames - 1)) + 2.0


def sample_motions(
    config: SyntheticConfig,
    rng: np.random.Generator,
    things: list[Thing],
    num_entering: int,
    num_leaving: int,
    height: int,
    width: int,
) -> tuple[list[Thing], list[Motion]]:
    """Motions for every thing; the last singles are turned into enter/leave things.

    Entering things start fully outside, reach the inner image by mid-video and
    drift slowly from then on; leaving
    things start where they were placed and are fully outside at the last
    frame. Their initial placement is changed accordingly.
    """
    num_frames = config.num_frames
    placed: list[Thing] = []
    motions: list[Motion] = []
    singles = [k for k, th in enumerate(things) if not th.iscrowd]
    entering = set(singles[len(singles) - num_entering :]) if num_entering else set()
    leaving_pool = [k for k in singles if k not in entering]
    leaving = set(leaving_pool[len(leaving_pool) - num_leaving :]) if num_leaving else set()
    for k, thing in enumerate(things):
        spin = rng.uniform(-config.max_spin, config.max_spin)
        zoom = rng.uniform(-config.max_zoom, config.max_zoom)
        speed = rng.uniform(0.3, 1.0) * config.max_speed
        phi = rng.uniform(0, 2 * np.pi)
        velocity = (speed * np.cos(phi), speed * np.sin(phi))
        settle = float("inf")
        reach = _max_radius(thing, zoom, num_frames)
        side = int(rng.integers(4))
        if k in entering:
            start = _border_point(rng, side, height, width, reach)
            target = (rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height)
            settle = max(rng.uniform(0.3, 0.5) * (num_frames - 1), 1.0)
            velocity = ((target[0] - start[0]) / settle, (target[1] - start[1]) / settle)
            thing = replace(thing, center=start)
        elif k in leaving:
            end = _border_point(rng, side, height, width, reach)
            start = (rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height)
            depart = max(rng.uniform(0.6, 1.0) * (num_frames - 1), 1.0)
            velocity = ((end[0] - start[0]) / depart, (end[1] - start[1]) / depart)
            thing = replace(thing, center=start)
        placed.append(thing)
        drift = (0.3 * speed * np.cos(phi), 0.3 * speed * np.sin(phi))
        motions.append(Motion(velocity, spin, zoom, settle=settle, drift=drift))
    return placed, motions


def generate_video(
    config: SyntheticConfig, seed: int, index: int, frame_indices: Sequence[int] | None = None
) -> list[SyntheticFrame]:
    """Render synthetic video ``index`` of the split drawn with ``seed``.

    Args:
        config: generator parameters (``num_frames``, motion ranges, ...).
        seed: split seed.
        index: video index inside the split.
        frame_indices: render only these frames (each frame has its own noise
            stream, so a frame is the same whether rendered alone or not).

    Returns:
        The frames in the order asked (default: all ``config.num_frames``); a
        thing's segment id is the same in every frame it is visible in.
    """
    rng = sample_rng(seed, index, stream=1)
    height, width = config.img_size
    num_frames = config.num_frames
    pan = rng.uniform(*config.pan_speed) * rng.choice([-1.0, 1.0])
    travel = int(np.ceil(abs(pan) * (num_frames - 1))) + 1
    canvas_width = width + travel
    labels = stuff_layout(rng, len(config.stuff_classes), height, canvas_width, config.pond_prob)
    stuff_img = stuff_texture(rng, config.stuff_classes, labels)
    voids = sample_void_polygons(config, rng, height, canvas_width)

    num_entering = int(rng.integers(config.num_entering[0], config.num_entering[1] + 1))
    num_leaving = int(rng.integers(config.num_leaving[0], config.num_leaving[1] + 1))
    num_things = int(rng.integers(config.num_things[0], config.num_things[1] + 1))
    num_things = max(num_things, num_entering + num_leaving)
    things = sample_things(config, rng, InstanceCounter(), num_things, height, width)
    things, motions = sample_motions(config, rng, things, num_entering, num_leaving, height, width)

    frames = []
    start = 0 if pan > 0 else travel - 1
    for t in range(num_frames) if frame_indices is None else frame_indices:
        if not 0 <= t < num_frames:
            raise IndexError(f"frame {t} outside a video of {num_frames} frames")
        offset = round(start + pan * t)
        moved = [thing_at(th, m, t) for th, m in zip(things, motions)]
        frame_voids = [poly - (offset, 0) for poly in voids]
        frames.append(
            render_frame(
                config,
                sample_rng(seed, index, stream=FRAME_STREAM + t),
                labels[:, offset : offset + width],
                stuff_img[:, offset : offset + width],
                moved,
                frame_voids,
            )
        )
    return frames
