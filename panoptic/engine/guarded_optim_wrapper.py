"""An optimizer wrapper that never steps on a non-finite loss or gradient, with autocast.

mmengine's ``AmpOptimWrapper`` requires CUDA; this wrapper runs bf16 autocast on
any device (bf16 needs no loss scaling) and guards the update: when the loss or
the accumulated gradients hold NaN or inf (on any rank), the gradients are
dropped and the parameters stay as they were. :class:`NanGuardHook` reports
such a step by name and either stops the run or counts it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

from panoptic.engine.precision import device_supports_bf16

AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def all_ranks_finite(value: torch.Tensor) -> bool:
    """Whether ``value`` is finite everywhere on every rank (one all-reduce when distributed).

    Args:
        value: Any tensor.

    Returns:
        ``True`` when no element of ``value`` on any rank is NaN or inf.
    """
    finite = torch.isfinite(value.detach()).all().to(torch.int32)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())


def gradients_finite(params: Iterator[nn.Parameter]) -> bool:
    """Whether every gradient in ``params`` is finite (one host sync).

    The sum of all gradient elements is NaN or inf exactly when some element
    is, or when the gradients are so large that the sum overflows, which a
    step should not use either.
    """
    sums = [p.grad.detach().float().sum() for p in params if p.grad is not None]
    if not sums:
        return True
    return bool(torch.isfinite(torch.stack(sums).sum()).item())


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(OptimWrapper):
    """``OptimWrapper`` with optional autocast that skips non-finite updates.

    Registered in mmengine's root ``OPTIM_WRAPPERS`` registry:
    ``optim_wrapper=dict(type="GuardedOptimWrapper", optimizer=..., clip_grad=...,
    autocast_dtype="bfloat16")``.

    Args:
        optimizer: The wrapped optimizer.
        autocast_dtype: ``"bfloat16"`` or ``"float16"`` to run the forward pass
            under ``torch.autocast`` on the model's device, ``None`` for fp32.
            ``"bfloat16"`` falls back to fp32 (with a warning) where the device
            has no native bf16 arithmetic, where it would only be slower.
        accumulative_counts: Micro-batches per update, as in ``OptimWrapper``.
        clip_grad: Gradient clipping arguments, as in ``OptimWrapper``
            (``dict(max_norm=35.0, norm_type=2)``), or ``None``.

    Attributes:
        last_update_skipped: Whether the latest ``update_params`` dropped its
            gradients because they (or the loss) were not finite.
        num_skipped_updates: How many updates were dropped so far.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        accumulative_counts: int = 1,
        clip_grad: dict | None = None,
        autocast_dtype: str | None = None,
    ) -> None:
        super().__init__(optimizer, accumulative_counts=accumulative_counts, clip_grad=clip_grad)
        if autocast_dtype is not None and autocast_dtype not in AUTOCAST_DTYPES:
            raise ValueError(
                f"optim_wrapper.autocast_dtype must be one of {sorted(AUTOCAST_DTYPES)} or None, "
                f"got {autocast_dtype!r}"
            )
        if autocast_dtype == "bfloat16" and not device_supports_bf16():
            print_log(
                "optim_wrapper.autocast_dtype='bfloat16': no native bf16 on this device; "
                "training in fp32.",
                logger="current",
                level=logging.WARNING,
            )
            autocast_dtype = None
        self.autocast_dtype = autocast_dtype
        self.last_update_skipped = False
        self.num_skipped_updates = 0

    def update_params(
        self,
        loss: torch.Tensor,
        step_kwargs: dict | None = None,
        zero_kwargs: dict | None = None,
    ) -> None:
        """Backward and step unless the loss or the gradients are not finite on some rank."""
        self.last_update_skipped = False
        if not all_ranks_finite(loss):
            # Count the micro-step so gradient accumulation keeps its rhythm.
            self._inner_count += 1
            self._drop_update(zero_kwargs)
            return
        self.backward(self.scale_loss(loss))
        if not self.should_update():
            return
        # DDP has averaged the gradients already, so every rank agrees here.
        params = (p for group in self.optimizer.param_groups for p in group["params"])
        if not gradients_finite(params):
            self._drop_update(zero_kwargs)
            return
        self.step(**(step_kwargs or {}))
        self.zero_grad(**(zero_kwargs or {}))

    def _drop_update(self, zero_kwargs: dict | None) -> None:
        self.zero_grad(**(zero_kwargs or {}))
        self.last_update_skipped = True
        self.num_skipped_updates += 1

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """The parent's context (DDP no-sync while accumulating) plus autocast."""
        with super().optim_context(model):
            if self.autocast_dtype is None:
                yield
                return
            device_type = next(model.parameters()).device.type
            dtype = AUTOCAST_DTYPES[self.autocast_dtype]
            with torch.autocast(device_type=device_type, dtype=dtype):
                yield
