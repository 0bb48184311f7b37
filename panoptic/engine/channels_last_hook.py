"""Put the model's 4-d weights in channels-last memory format before training."""

from __future__ import annotations

from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from panoptic.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Convert the model to ``torch.channels_last`` once, before the first iteration.

    oneDNN (CPU) and cuDNN run bf16/fp16 convolutions fastest on NHWC data;
    with NHWC weights a convolution also returns NHWC activations, so the
    layout propagates through the network without per-layer conversions.
    """

    priority = "VERY_HIGH"

    def before_run(self, runner: Any) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.to(memory_format=torch.channels_last)
