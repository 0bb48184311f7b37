"""``PanopticDataPreprocessor``: batch, normalise and pad images and training targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from panoptic.registry import MODELS
from panoptic.structures.panoptic_data_sample import PanopticDataSample

# Shapes: B batch (frames), T clip length, H/W height/width, N instances.


def flatten_clips(
    inputs: Sequence[torch.Tensor], data_samples: Sequence[Any]
) -> tuple[list[torch.Tensor], list[PanopticDataSample], int]:
    """Turn a batch of (T, 3, H, W) clips into B*T frames, clip-major.

    ``data_samples`` may be clip-major (B lists of T samples) or frame-major
    (T lists of B samples, what mmengine's ``pseudo_collate`` makes of a batch
    of clips); the samples' ``clip_pos`` metainfo tells them apart.

    Returns:
        The (3, H, W) frames, their samples and the clip length (1 for images).
    """
    if inputs[0].dim() == 3:
        return list(inputs), list(data_samples), 1
    num_clips, clip_len = len(inputs), inputs[0].shape[0]
    first = list(data_samples[0])
    frame_major = (
        clip_len > 1
        and len(first) == num_clips
        and all(s.metainfo.get("clip_pos") == 0 for s in first)
    )
    if frame_major:
        data_samples = [list(clip) for clip in zip(*data_samples)]
    frames = [frame for clip in inputs for frame in clip]
    samples = [sample for clip in data_samples for sample in clip]
    if len(samples) != len(frames):
        raise ValueError(f"{len(frames)} clip frames but {len(samples)} data samples")
    for sample in samples:
        sample.set_metainfo(dict(clip_len=clip_len))
    return frames, samples, clip_len


def pad_targets(sample: PanopticDataSample, height: int, width: int, seg_pad_value: int) -> None:
    """Pad gt masks and semantic map (at image resolution) to (height, width) in place."""
    img_h, img_w = sample.metainfo["img_shape"]
    if "gt_instances" in sample and sample.gt_instances.masks.shape[-2:] == (img_h, img_w):
        masks = sample.gt_instances.masks  # (N, h, w)
        sample.gt_instances.masks = F.pad(masks, (0, width - img_w, 0, height - img_h))
    if "gt_sem_seg" in sample and sample.gt_sem_seg.data.shape[-2:] == (img_h, img_w):
        sem = sample.gt_sem_seg.data  # (1, h, w)
        padded = F.pad(sem, (0, width - img_w, 0, height - img_h), value=seg_pad_value)
        sample.gt_sem_seg = type(sample.gt_sem_seg)(data=padded)


@MODELS.register_module()
class PanopticDataPreprocessor(BaseDataPreprocessor):
    """Stack images to (B, 3, H, W) float32, normalised and padded.

    Clip batches (each item (T, 3, H, W)) become B*T frames, clip-major, and
    every sample gets metainfo ``clip_len`` = T. Every sample gets
    ``batch_input_shape`` and ``pad_shape``; in training, gt masks and
    semantic maps at image resolution are padded to the batch shape (masks
    with False, semantic maps with ``seg_pad_value``).

    Args:
        mean: per-channel mean, in the output channel order (after
            ``bgr_to_rgb``).
        std: per-channel standard deviation, same order.
        bgr_to_rgb: swap the input BGR channels to RGB.
        pad_size_divisor: pad height and width up to a multiple of it.
        pad_value: padding value of the normalised image.
        seg_pad_value: padding value of semantic maps.
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        bgr_to_rgb: bool,
        pad_size_divisor: int,
        pad_value: float = 0.0,
        seg_pad_value: int = 255,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self.bgr_to_rgb = bgr_to_rgb
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value
        self.seg_pad_value = seg_pad_value

    def forward(self, data: dict, training: bool = False) -> dict[str, Any]:
        """Batch ``dict(inputs=[...], data_samples=[...])`` from the dataloader.

        Returns:
            ``dict(inputs=(B, 3, H, W) float32, data_samples=list of B samples)``.
        """
        inputs = data["inputs"]
        samples = data.get("data_samples")
        if isinstance(inputs, torch.Tensor):
            inputs = list(inputs)
        if samples is None:
            samples = [PanopticDataSample() for _ in inputs]
        frames, samples, _ = flatten_clips(inputs, samples)
        height = max(f.shape[-2] for f in frames)
        width = max(f.shape[-1] for f in frames)
        div = self.pad_size_divisor
        height, width = -(-height // div) * div, -(-width // div) * div
        batch = []
        for frame in frames:
            img = frame.to(self.device).float()  # (3, h, w)
            if self.bgr_to_rgb:
                img = img.flip(0)
            img = (img - self.mean) / self.std
            pad = (0, width - img.shape[-1], 0, height - img.shape[-2])
            batch.append(F.pad(img, pad, value=self.pad_value))
        images = torch.stack(batch)  # (B, 3, H, W)
        out_samples = []
        for frame, sample in zip(frames, samples):
            sample = sample.to(self.device)
            sample.set_metainfo(dict(batch_input_shape=(height, width), pad_shape=(height, width)))
            if "img_shape" not in sample.metainfo:
                sample.set_metainfo(dict(img_shape=tuple(frame.shape[-2:])))
            if training:
                pad_targets(sample, height, width, self.seg_pad_value)
            out_samples.append(sample)
        return dict(inputs=images, data_samples=out_samples)
