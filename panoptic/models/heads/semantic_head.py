"""Semantic head: per-pixel logits for every thing and stuff class on the shared FPN.

Each of the input levels (e.g. ``p3``, ``p4``, ``p5``) goes through one 3x3 conv,
is brought to the size of the finest input level and summed; a few 3x3 convs
refine the sum and a 1x1 conv classifies it; the logits are then upsampled by
``upsample_factor`` (2 brings P3's stride 8 to the prototypes' stride 4, where
the panoptic head fuses them with YOLACT's mask logits).

Channel order follows the label convention of ``docs/architecture.md``: thing
classes first (``0..T-1``), then stuff (``T..T+S-1``). The thing channels feed
the panoptic head's instance and unknown channels, the stuff channels its stuff
channels.

Shapes: B batch, C = T + S classes, T thing classes, S stuff classes,
H/W height/width of the logits, Hi/Wi of the padded input.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from panoptic.registry import MODELS
from panoptic.structures import PanopticDataSample


def sample_label_map(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """Nearest-neighbour resampling of integer label maps at pixel centres.

    Output pixel ``(i, j)`` takes the label under the centre of its cell in the
    input, ``labels[floor((i + 0.5) * H_in / H), floor((j + 0.5) * W_in / W)]``,
    so a stride-4 grid reads the label in the middle of each 4x4 block rather
    than at its top-left corner as ``F.interpolate(mode="nearest")`` would.

    Args:
        labels: (B, H_in, W_in) or (B, N, H_in, W_in) integer or bool maps.
        size: (H, W) of the output.

    Returns:
        Tensor of the same dtype, (B, H, W) or (B, N, H, W).
    """
    H_in, W_in = labels.shape[-2:]
    H, W = size
    rows = ((torch.arange(H, device=labels.device) + 0.5) * (H_in / H)).long().clamp_(max=H_in - 1)
    cols = ((torch.arange(W, device=labels.device) + 0.5) * (W_in / W)).long().clamp_(max=W_in - 1)
    return labels[..., rows, :][..., cols]


def stack_sem_seg(
    batch_data_samples: Sequence[PanopticDataSample],
    input_size: tuple[int, int],
    ignore_index: int,
) -> Tensor:
    """Stacks every sample's ``gt_sem_seg`` into one map padded with VOID.

    Args:
        batch_data_samples: samples with ``gt_sem_seg.data`` (1, h, w) int64, at
            most ``input_size``.
        input_size: (Hi, Wi) of the padded batch input.
        ignore_index: VOID label used for the padding.

    Returns:
        (B, Hi, Wi) int64 semantic labels.
    """
    Hi, Wi = input_size
    maps = []
    for sample in batch_data_samples:
        sem = sample.gt_sem_seg.data[0].long()  # (h, w)
        h, w = sem.shape
        maps.append(F.pad(sem, (0, Wi - w, 0, Hi - h), value=ignore_index))
    return torch.stack(maps)  # (B, Hi, Wi)


def semantic_loss(sem_logits: Tensor, sem_targets: Tensor, ignore_index: int) -> Tensor:
    """Per-pixel cross-entropy, averaged over non-VOID pixels (0 when all are VOID).

    Args:
        sem_logits: (B, C, H, W) logits.
        sem_targets: (B, H, W) int64 labels in ``0..C-1`` or ``ignore_index``.
        ignore_index: VOID label.

    Returns:
        Scalar loss.
    """
    num_valid = (sem_targets != ignore_index).sum()
    loss = F.cross_entropy(
        sem_logits.float(), sem_targets, ignore_index=ignore_index, reduction="sum"
    )
    return loss / num_valid.clamp(min=1)


@MODELS.register_module()
class SemanticHead(BaseModule):
    """Panoptic-FPN-style semantic head giving thing + stuff logits at stride 4.

    Args:
        in_channels: channels of every input FPN level.
        feat_channels: channels of the head's convs.
        num_convs: 3x3 convs after the levels are summed.
        num_thing_classes: T, thing classes (the first T channels).
        num_stuff_classes: S, stuff classes (the last S channels).
        in_levels: FPN levels used, finest first (e.g. ``("p3", "p4", "p5")``).
        upsample_factor: scale from the finest level to the logits (2: stride 8 -> 4).
        norm_groups: GroupNorm groups after every conv.
        ignore_index: VOID label of the targets.
        loss_weight: weight of ``loss_semantic``.
    """

    def __init__(
        self,
        in_channels: int,
        feat_channels: int,
        num_convs: int,
        num_thing_classes: int,
        num_stuff_classes: int,
        in_levels: Sequence[str],
        upsample_factor: int,
        norm_groups: int,
        ignore_index: int,
        loss_weight: float,
    ) -> None:
        super().__init__()
        self.num_thing_classes = num_thing_classes
        self.num_stuff_classes = num_stuff_classes
        self.num_classes = num_thing_classes + num_stuff_classes
        self.in_levels = tuple(in_levels)
        self.upsample_factor = upsample_factor
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight

        def conv_block(cin: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, feat_channels, 3, padding=1, bias=False),
                nn.GroupNorm(norm_groups, feat_channels),
                nn.ReLU(inplace=True),
            )

        self.lateral_convs = nn.ModuleList(conv_block(in_channels) for _ in self.in_levels)
        self.convs = nn.Sequential(*(conv_block(feat_channels) for _ in range(num_convs)))
        self.classifier = nn.Conv2d(feat_channels, self.num_classes, 1)

    def forward(self, feats: dict[str, Tensor]) -> Tensor:
        """Semantic logits.

        Args:
            feats: FPN features keyed by level; ``in_levels[0]`` is the finest, (B, Cin, h, w).

        Returns:
            (B, T + S, h * upsample_factor, w * upsample_factor) logits, things first.
        """
        size = feats[self.in_levels[0]].shape[-2:]
        fused = None
        for level, conv in zip(self.in_levels, self.lateral_convs):
            x = conv(feats[level])
            if x.shape[-2:] != size:
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            fused = x if fused is None else fused + x
        logits = self.classifier(self.convs(fused))  # (B, C, h, w)
        if self.upsample_factor != 1:
            logits = F.interpolate(
                logits, scale_factor=self.upsample_factor, mode="bilinear", align_corners=False
            )
        return logits

    def loss(
        self, sem_logits: Tensor, batch_data_samples: Sequence[PanopticDataSample]
    ) -> dict[str, Tensor]:
        """Weighted cross-entropy against ``gt_sem_seg`` sampled on the logit grid.

        The input size is the logit size times the total stride, read from the
        samples' ``batch_input_shape`` (or ``pad_shape``) metainfo.

        Args:
            sem_logits: (B, C, H, W) from :meth:`forward`.
            batch_data_samples: samples with ``gt_sem_seg``.

        Returns:
            ``{"loss_semantic": scalar}``.
        """
        targets = self.targets(sem_logits, batch_data_samples)
        loss = semantic_loss(sem_logits, targets, self.ignore_index)
        return {"loss_semantic": loss * self.loss_weight}

    def targets(
        self, sem_logits: Tensor, batch_data_samples: Sequence[PanopticDataSample]
    ) -> Tensor:
        """``gt_sem_seg`` padded to the batch input and sampled on the logit grid.

        Args:
            sem_logits: (B, C, H, W) logits (only their size is read).
            batch_data_samples: samples with ``gt_sem_seg`` and ``batch_input_shape``
                or ``pad_shape`` metainfo.

        Returns:
            (B, H, W) int64 labels.
        """
        input_size = batch_input_size(batch_data_samples)
        sem = stack_sem_seg(batch_data_samples, input_size, self.ignore_index)
        H, W = sem_logits.shape[-2:]
        return sample_label_map(sem.to(sem_logits.device), (H, W))

    def predict(self, sem_logits: Tensor) -> Tensor:
        """Per-pixel labels on the logit grid.

        Args:
            sem_logits: (B, C, H, W).

        Returns:
            (B, H, W) int64 argmax labels.
        """
        return sem_logits.argmax(dim=1)


def batch_input_size(batch_data_samples: Sequence[PanopticDataSample]) -> tuple[int, int]:
    """(Hi, Wi) of the padded batch input, from the first sample's metainfo.

    Reads ``batch_input_shape`` (set by the data preprocessor), else the largest
    ``pad_shape`` / ``img_shape`` of the batch.
    """
    first = batch_data_samples[0]
    if "batch_input_shape" in first:
        h, w = first.batch_input_shape[:2]
        return int(h), int(w)
    key = "pad_shape" if "pad_shape" in first else "img_shape"
    h = max(int(s.metainfo[key][0]) for s in batch_data_samples)
    w = max(int(s.metainfo[key][1]) for s in batch_data_samples)
    return h, w
