"""The YOLACT priors (anchors), exactly as the authors generate them.

Legend: A priors, L levels, H/W feature height/width.

For every level, every cell (row-major) and every aspect ratio ``ar`` the prior
is centred on the cell, with width ``scale * sqrt(ar) / base_size``. The authors'
configs set ``use_square_anchors``, so the height is the width: the three aspect
ratios give three square priors of different sizes, not three shapes. We keep
that quirk because the released weights were trained with it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor


@lru_cache(maxsize=32)
def _level_priors(
    height: int,
    width: int,
    scales: tuple[float, ...],
    aspect_ratios: tuple[float, ...],
    base_size: float,
    square: bool,
) -> np.ndarray:
    # Python floats (double precision) with the authors' operation order, cast to
    # float32 only at the end, so the priors match theirs bit for bit.
    sizes: list[tuple[float, float]] = []
    for scale in scales:
        for ar in aspect_ratios:
            root = math.sqrt(ar)
            w = scale * root / base_size
            h = w if square else scale / root / base_size
            sizes.append((w, h))
    priors = np.empty((height, width, len(sizes), 4), dtype=np.float64)
    priors[..., 0] = ((np.arange(width, dtype=np.float64) + 0.5) / width)[None, :, None]
    priors[..., 1] = ((np.arange(height, dtype=np.float64) + 0.5) / height)[:, None, None]
    priors[..., 2] = np.array([s[0] for s in sizes])
    priors[..., 3] = np.array([s[1] for s in sizes])
    return priors.reshape(-1, 4).astype(np.float32)  # (H * W * anchors, 4)


class YolactPriorGenerator:
    """Priors for the YOLACT head, cached per feature-map size.

    Args:
        scales: per level, the prior sizes in pixels of a ``base_size`` image
            (authors: ``((24,), (48,), (96,), (192,), (384,))`` for P3-P7 at 550).
        aspect_ratios: per level, the aspect ratios (authors: ``(1, 0.5, 2)``).
        base_size: the image size the pixel scales refer to (550).
        square: the authors' ``use_square_anchors`` quirk (height = width).
    """

    def __init__(
        self,
        scales: list[list[float]] | tuple[tuple[float, ...], ...],
        aspect_ratios: list[list[float]] | tuple[tuple[float, ...], ...],
        base_size: float,
        square: bool = True,
    ) -> None:
        if len(scales) != len(aspect_ratios):
            raise ValueError(f"{len(scales)} levels of scales, {len(aspect_ratios)} of ratios")
        self.scales = tuple(tuple(float(s) for s in level) for level in scales)
        self.aspect_ratios = tuple(tuple(float(r) for r in level) for level in aspect_ratios)
        self.base_size = float(base_size)
        self.square = square

    @property
    def num_levels(self) -> int:
        """Number of pyramid levels the priors cover."""
        return len(self.scales)

    def num_priors_per_cell(self, level: int) -> int:
        """Priors at each feature cell of ``level``."""
        return len(self.scales[level]) * len(self.aspect_ratios[level])

    def __call__(self, feature_sizes: list[tuple[int, int]], device: torch.device) -> Tensor:
        """Priors of all levels.

        Args:
            feature_sizes: (H, W) of each level, finest first.
            device: where to put the result.

        Returns:
            (A, 4) priors (cx, cy, w, h) relative to the image, ordered level, row,
            column, prior: the order of the head's flattened predictions.
        """
        levels = [
            _level_priors(h, w, s, r, self.base_size, self.square)
            for (h, w), s, r in zip(feature_sizes, self.scales, self.aspect_ratios)
        ]
        return torch.from_numpy(np.concatenate(levels)).to(device)
