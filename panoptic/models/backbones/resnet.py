"""ResNet backbone built from torchvision's residual blocks.

Legend: B batch, C channels, H/W height/width.

Parameter names follow torchvision (``conv1``, ``bn1``, ``layer1`` .. ``layer4``), so
a torchvision ImageNet checkpoint loads as it is.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.resnet import BasicBlock, Bottleneck

from panoptic.registry import MODELS

_ARCHITECTURES: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}
_STAGE_NAMES = ("c2", "c3", "c4", "c5")


def _make_stage(
    block: type[BasicBlock] | type[Bottleneck],
    in_channels: int,
    width: int,
    num_blocks: int,
    stride: int,
) -> nn.Sequential:
    out_channels = width * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )
    blocks = [block(in_channels, width, stride=stride, downsample=downsample)]
    blocks += [block(out_channels, width) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


def load_torchvision_checkpoint(module: nn.Module, path: str | Path) -> None:
    """Load a torchvision-format ResNet state dict from a local file into ``module``.

    The classifier (``fc.*``) is dropped; every other key must match.

    Args:
        module: the :class:`ResNet` to fill.
        path: a ``.pth`` file holding a state dict (or ``{"state_dict": ...}``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        KeyError: naming the keys that are missing or unexpected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise KeyError(
            f"{path}: missing keys {missing[:5]}..., unexpected keys {unexpected[:5]}..."
        )


@MODELS.register_module()
class ResNet(nn.Module):
    """ResNet-18/34/50/101 returning the stage outputs ``c2`` .. ``c5``.

    Args:
        depth: 18, 34, 50 or 101.
        out_indices: which stages to return (0 -> ``c2`` stride 4, .., 3 -> ``c5`` stride 32).
        frozen_stages: stages whose parameters do not train: -1 none, 0 the stem,
            ``i`` the stem and stages 1..i.
        norm_eval: keep every BatchNorm in eval mode (running statistics frozen) during
            training, with its affine parameters frozen too.
        checkpoint: optional local path of a torchvision-format checkpoint to load.
    """

    def __init__(
        self,
        depth: int,
        out_indices: tuple[int, ...] = (1, 2, 3),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        checkpoint: str | None = None,
    ) -> None:
        super().__init__()
        if depth not in _ARCHITECTURES:
            raise ValueError(f"ResNet depth must be one of {sorted(_ARCHITECTURES)}, got {depth}")
        block, stage_blocks = _ARCHITECTURES[depth]
        self.depth = depth
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        self.out_channels: list[int] = []
        for i, num_blocks in enumerate(stage_blocks):
            width = 64 * 2**i
            stage = _make_stage(block, in_channels, width, num_blocks, stride=1 if i == 0 else 2)
            self.add_module(f"layer{i + 1}", stage)
            in_channels = width * block.expansion
            self.out_channels.append(in_channels)
        if checkpoint is not None:
            load_torchvision_checkpoint(self, checkpoint)
        self._freeze()

    def _freeze(self) -> None:
        frozen: list[nn.Module] = []
        if self.frozen_stages >= 0:
            frozen += [self.conv1, self.bn1]
        frozen += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        if self.norm_eval:
            frozen += [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)

    def train(self, mode: bool = True) -> ResNet:
        """Switch mode, keeping frozen stages and (with ``norm_eval``) BatchNorm in eval."""
        super().train(mode)
        if mode:
            self._freeze()
        return self

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """Run the network.

        Args:
            images: (B, 3, H, W) normalised images.

        Returns:
            ``{"c2": (B, C2, H/4, W/4), .., "c5": (B, C5, H/32, W/32)}`` for the stages in
            ``out_indices``.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        features: dict[str, Tensor] = {}
        for i, name in enumerate(_STAGE_NAMES):
            x = getattr(self, f"layer{i + 1}")(x)
            if i in self.out_indices:
                features[name] = x
            if i >= max(self.out_indices):
                break
        return features

    def fold_batch_norm(self) -> None:
        """Fold every BatchNorm into the conv before it, for inference only.

        Each ``conv -> bn`` pair becomes one conv with a bias (the BatchNorm is
        replaced by ``nn.Identity``): one memory pass less per layer. Results change
        by float rounding only (about 1e-6 relative in fp32). Training afterwards is
        not supported.
        """
        self.eval()
        pairs: list[tuple[nn.Module, str, str]] = [(self, "conv1", "bn1")]
        for module in self.modules():
            if isinstance(module, (BasicBlock, Bottleneck)):
                names = ("1", "2", "3") if isinstance(module, Bottleneck) else ("1", "2")
                pairs += [(module, f"conv{i}", f"bn{i}") for i in names]
                if module.downsample is not None:
                    pairs.append((module.downsample, "0", "1"))
        for parent, conv_name, bn_name in pairs:
            conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
            if isinstance(bn, nn.BatchNorm2d):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
