"""The YOLACT protonet: prototype masks from P3.

Legend: B batch, C channels, K prototypes, H/W height/width of P3.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from panoptic.registry import MODELS


@MODELS.register_module()
class Protonet(nn.Module):
    """Three 3x3 convs, 2x bilinear upsampling, a 3x3 conv and a 1x1 conv to K prototypes.

    Every conv but the last is followed by a ReLU; the prototypes get a final ReLU.

    Args:
        in_channels: channels of the input level.
        channels: channels of the hidden convs (256).
        num_prototypes: K (32).
        num_convs_before_upsample: 3x3 convs at input resolution (3).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_prototypes: int,
        num_convs_before_upsample: int = 3,
    ) -> None:
        super().__init__()
        self.num_prototypes = num_prototypes
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else channels, channels, kernel_size=3, padding=1)
            for i in range(num_convs_before_upsample)
        )
        self.upsampled_conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.proto_conv = nn.Conv2d(channels, num_prototypes, kernel_size=1)

        # The authors' initialisation of every conv outside the backbone.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, p3: Tensor) -> Tensor:
        """Compute prototypes.

        Args:
            p3: (B, C, H, W) the finest pyramid level.

        Returns:
            (B, 2H, 2W, K) prototypes after ReLU, channels last.
        """
        x = p3
        for conv in self.convs:
            x = F.relu(conv(x))
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = F.relu(self.upsampled_conv(x))
        protos = F.relu(self.proto_conv(x))  # (B, K, 2H, 2W)
        return protos.permute(0, 2, 3, 1).contiguous()  # (B, 2H, 2W, K)
