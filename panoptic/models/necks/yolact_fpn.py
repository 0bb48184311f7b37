"""The YOLACT feature pyramid: P3-P5 from C3-C5, P6 and P7 by strided convs.

Legend: B batch, C channels, H/W height/width.

It differs from the Detectron FPN in three ways the authors chose: the top-down
path upsamples bilinearly to the exact size of the next level, the 3x3 smoothing
convs are followed by a ReLU, and P6/P7 come from stride-2 3x3 convs on P5 and P6
(without ReLU).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from panoptic.registry import MODELS


@MODELS.register_module()
class YolactFPN(nn.Module):
    """YOLACT's FPN.

    Args:
        in_channels: channels of the input levels, finest first (C3, C4, C5).
        out_channels: channels of every output level.
        in_names: keys of the input levels in the backbone's feature dict.
        num_extra_levels: levels added above the coarsest by stride-2 convs (P6, P7).
    """

    def __init__(
        self,
        in_channels: list[int],
        out_channels: int,
        in_names: tuple[str, ...] = ("c3", "c4", "c5"),
        num_extra_levels: int = 2,
    ) -> None:
        super().__init__()
        if len(in_channels) != len(in_names):
            raise ValueError(f"{len(in_channels)} in_channels for {len(in_names)} in_names")
        self.in_names = tuple(in_names)
        first_level = int(in_names[0][1:])
        num_levels = len(in_names) + num_extra_levels
        self.out_names = tuple(f"p{first_level + i}" for i in range(num_levels))
        self.lateral_convs = nn.ModuleList(
            nn.Conv2d(c, out_channels, kernel_size=1) for c in in_channels
        )
        self.smooth_convs = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1) for _ in in_channels
        )
        self.extra_convs = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, stride=2)
            for _ in range(num_extra_levels)
        )

        # The authors' initialisation of every conv outside the backbone.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """Build the pyramid.

        Args:
            features: backbone outputs holding ``in_names``, e.g. ``c3`` (B, C3, H/8, W/8).

        Returns:
            ``{"p3": (B, C, H/8, W/8), .., "p7": (B, C, H/128, W/128)}``.
        """
        inputs = [features[name] for name in self.in_names]
        merged: list[Tensor] = [inputs[-1]] * len(inputs)
        top_down = self.lateral_convs[-1](inputs[-1])
        merged[-1] = top_down
        for i in range(len(inputs) - 2, -1, -1):
            upsampled = F.interpolate(
                top_down, size=inputs[i].shape[-2:], mode="bilinear", align_corners=False
            )
            top_down = upsampled + self.lateral_convs[i](inputs[i])
            merged[i] = top_down
        outputs = [F.relu(conv(x)) for conv, x in zip(self.smooth_convs, merged)]
        for conv in self.extra_convs:
            outputs.append(conv(outputs[-1]))
        return dict(zip(self.out_names, outputs))
