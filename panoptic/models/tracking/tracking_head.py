"""Tracking head: an appearance embedding per instance, trained VPSNet's way.

Each box is RoIAligned (``roi_size`` x ``roi_size``) from the FPN level that
suits its size, flattened and passed through two fully connected layers. Training
pairs every frame of a clip with the frame before it: each key instance is
classified among "new object" and the reference frame's instances by scaled
cosine similarity (the "new object" logit is 0), with the instance carrying the
same instance id as the target (VPSNet's cross-entropy; cosine so that training
and the tracker's affinity use one similarity).

Legend: B frames in a batch (clips flattened clip-major), N boxes, C FPN
channels, R roi size, D embedding size, T frames per clip.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import MultiScaleRoIAlign

from panoptic.registry import MODELS
from panoptic.structures.panoptic_data_sample import PanopticDataSample


def association_logits(key: Tensor, reference: Tensor, temperature: float) -> Tensor:
    """Logits of each key instance over ``[new object, reference instances]``.

    Args:
        key: (Nk, D) embeddings of the key frame's instances.
        reference: (Nr, D) embeddings of the reference frame's instances.
        temperature: divides the cosine similarities.

    Returns:
        (Nk, 1 + Nr) logits; column 0 (new object) is 0.
    """
    cosine = F.normalize(key, dim=-1) @ F.normalize(reference, dim=-1).t()  # (Nk, Nr)
    return torch.cat([cosine.new_zeros(len(key), 1), cosine / temperature], dim=1)


def association_targets(key_ids: Tensor, reference_ids: Tensor) -> Tensor:
    """Class index per key instance: 1 + position of its id in the reference, else 0.

    Args:
        key_ids: (Nk,) int64 instance ids of the key frame.
        reference_ids: (Nr,) int64 instance ids of the reference frame.

    Returns:
        (Nk,) int64 targets in ``0..Nr``.
    """
    same = key_ids[:, None] == reference_ids[None, :]  # (Nk, Nr)
    return torch.where(same.any(dim=1), same.float().argmax(dim=1) + 1, 0)


def association_loss(
    embeddings: Sequence[Tensor], instance_ids: Sequence[Tensor], clip_len: int, temperature: float
) -> Tensor:
    """VPSNet's tracking cross-entropy over consecutive frame pairs of every clip.

    Args:
        embeddings: B tensors (n_b, D), frames clip-major (B = clips x ``clip_len``).
        instance_ids: B tensors (n_b,) int64 instance ids, consistent within a clip.
        clip_len: T.
        temperature: see :func:`association_logits`.

    Returns:
        Scalar mean cross-entropy over all key instances; 0 (with a graph) when no
        frame pair has a key instance.
    """
    if len(embeddings) % clip_len:
        raise ValueError(f"{len(embeddings)} frames do not split into clips of {clip_len}")
    losses = []
    for b in range(len(embeddings)):
        if b % clip_len == 0 or len(embeddings[b]) == 0:
            continue
        logits = association_logits(embeddings[b], embeddings[b - 1], temperature)
        targets = association_targets(instance_ids[b], instance_ids[b - 1])
        losses.append(F.cross_entropy(logits, targets, reduction="none"))
    if not losses:
        return torch.stack([e.sum() for e in embeddings]).sum() * 0.0
    return torch.cat(losses).mean()


def jitter_boxes(boxes: Tensor, amount: float, generator: torch.Generator | None = None) -> Tensor:
    """Shift each side of x1y1x2y2 boxes by up to ``amount`` of the box size.

    Args:
        boxes: (N, 4) boxes.
        amount: largest shift as a fraction of the width / height.
        generator: random generator.

    Returns:
        (N, 4) boxes, still at least one pixel wide and high.
    """
    wh = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)  # (N, 4)
    noise = torch.rand(boxes.shape, generator=generator, device=boxes.device) * 2 - 1
    out = boxes + noise * amount * wh
    x1y1 = torch.minimum(out[:, :2], out[:, 2:] - 1)
    return torch.cat([x1y1, torch.maximum(out[:, 2:], x1y1 + 1)], dim=1)


@MODELS.register_module()
class TrackingHead(nn.Module):
    """RoIAlign on the FPN, then two FC layers, to one embedding per box.

    Args:
        in_channels: C, channels of the FPN levels.
        featmap_names: FPN levels to pool from (e.g. ``["p3", "p4", "p5"]``).
        roi_size: R, RoIAlign output size.
        sampling_ratio: RoIAlign sampling points per bin side.
        hidden_channels: width of the first FC layer.
        embed_channels: D.
        temperature: cosine temperature of the training loss.
        box_jitter: training-time box noise as a fraction of the box size.
    """

    def __init__(
        self,
        in_channels: int,
        featmap_names: Sequence[str],
        roi_size: int,
        sampling_ratio: int,
        hidden_channels: int,
        embed_channels: int,
        temperature: float,
        box_jitter: float,
    ) -> None:
        super().__init__()
        self.roi_align = MultiScaleRoIAlign(list(featmap_names), roi_size, sampling_ratio)
        self.fc1 = nn.Linear(in_channels * roi_size * roi_size, hidden_channels)
        self.fc2 = nn.Linear(hidden_channels, embed_channels)
        self.temperature = temperature
        self.box_jitter = box_jitter

    def forward(
        self, features: dict[str, Tensor], boxes: Sequence[Tensor], input_shape: Sequence[int]
    ) -> list[Tensor]:
        """Embeddings of the boxes of every image.

        Args:
            features: FPN levels, each (B, C, H_l, W_l).
            boxes: B tensors (n_b, 4) x1y1x2y2 in input pixels.
            input_shape: (H, W) of the batch input.

        Returns:
            B tensors (n_b, D) (not normalised).
        """
        counts = [len(b) for b in boxes]
        dtype = next(iter(features.values())).dtype
        rois = [b.to(dtype) for b in boxes]
        image_shapes = [tuple(int(s) for s in input_shape[:2])] * len(boxes)
        pooled = self.roi_align(features, rois, image_shapes)  # (sum n_b, C, R, R)
        hidden = F.relu(self.fc1(pooled.flatten(1)))  # (sum n_b, hidden)
        return list(self.fc2(hidden).split(counts))  # B x (n_b, D)

    def loss(
        self,
        features: dict[str, Tensor],
        data_samples: Sequence[PanopticDataSample],
        clip_len: int,
        input_shape: Sequence[int],
    ) -> dict[str, Tensor]:
        """Association loss on the (jittered) ground-truth boxes of the clips.

        Args:
            features: FPN levels of the B = clips x T frames, clip-major.
            data_samples: B samples with ``gt_instances`` (``boxes`` in input
                pixels, ``instance_ids``, optional ``iscrowd``).
            clip_len: T.
            input_shape: (H, W) of the batch input.

        Returns:
            ``{"loss_track": scalar}``.
        """
        boxes, ids = [], []
        for sample in data_samples:
            gt = sample.gt_instances
            keep = ~gt.iscrowd.bool() if "iscrowd" in gt else torch.ones(len(gt), dtype=torch.bool)
            keep = keep.to(gt.boxes.device)
            boxes.append(jitter_boxes(gt.boxes[keep].float(), self.box_jitter))
            ids.append(gt.instance_ids[keep].long())
        embeddings = self(features, boxes, input_shape)
        return {"loss_track": association_loss(embeddings, ids, clip_len, self.temperature)}

    def predict(
        self, features: dict[str, Tensor], boxes: Sequence[Tensor], input_shape: Sequence[int]
    ) -> list[Tensor]:
        """Unit-norm embeddings of predicted boxes (B tensors (n_b, D))."""
        return [F.normalize(e, dim=-1) for e in self(features, boxes, input_shape)]
