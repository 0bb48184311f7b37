"""Stop (or knowingly skip) a training step whose loss is NaN or inf."""

from __future__ import annotations

import math
from typing import Any

import torch
from mmengine.hooks import Hook

from panoptic.engine.guarded_optim_wrapper import GuardedOptimWrapper
from panoptic.registry import HOOKS


def non_finite_terms(log_vars: dict[str, Any]) -> dict[str, float]:
    """The entries of a model's ``log_vars`` whose value is NaN or inf.

    Args:
        log_vars: ``train_step`` outputs: loss names to scalar tensors or floats.

    Returns:
        Name to value of every non-finite entry, in the given order.
    """
    bad: dict[str, float] = {}
    for name, value in log_vars.items():
        number = float(value.detach().float().mean()) if torch.is_tensor(value) else value
        if isinstance(number, float) and not math.isfinite(number):
            bad[name] = number
    return bad


@HOOKS.register_module()
class NanGuardHook(Hook):
    """Detect a non-finite loss at the iteration it appears.

    Needs :class:`GuardedOptimWrapper`, which has already refused to update
    the parameters with such a loss (or with non-finite gradients) when this
    hook runs.

    Args:
        action: ``"stop"`` raises ``FloatingPointError`` naming the iteration
            and the loss terms; ``"skip"`` logs them, counts the step in the
            message hub (``train/num_skipped_steps``) and goes on.
        max_skipped_steps: With ``"skip"``, stop anyway once more steps than
            this have been skipped (a run that diverged for good).
    """

    priority = "ABOVE_NORMAL"

    def __init__(self, action: str = "stop", max_skipped_steps: int = 100) -> None:
        if action not in ("stop", "skip"):
            raise ValueError(f"NanGuardHook.action must be 'stop' or 'skip', got {action!r}")
        self.action = action
        self.max_skipped_steps = max_skipped_steps
        self.num_skipped_steps = 0

    def before_train(self, runner: Any) -> None:
        if not isinstance(runner.optim_wrapper, GuardedOptimWrapper):
            raise TypeError(
                "NanGuardHook needs optim_wrapper.type='GuardedOptimWrapper' (got "
                f"{type(runner.optim_wrapper).__name__}): other wrappers step on NaN losses."
            )
        self.num_skipped_steps = int(
            runner.message_hub.get_info("train/num_skipped_steps", self.num_skipped_steps)
        )

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        bad_terms = non_finite_terms(outputs or {})
        if not bad_terms and not runner.optim_wrapper.last_update_skipped:
            return
        iteration = runner.iter + 1
        if bad_terms:
            what = "non-finite loss " + ", ".join(f"{k}={v}" for k, v in bad_terms.items())
        else:
            what = "non-finite gradients (all loss terms finite)"
        if self.action == "stop":
            raise FloatingPointError(
                f"{what} at iteration {iteration}; parameters were not updated with it. "
                "Lower the learning rate, enable gradient clipping, or set "
                "NanGuardHook(action='skip') to skip such steps."
            )
        self.num_skipped_steps += 1
        runner.message_hub.update_info("train/num_skipped_steps", self.num_skipped_steps)
        runner.logger.warning(
            f"Skipped iteration {iteration}: {what} "
            f"({self.num_skipped_steps} skipped so far, at most {self.max_skipped_steps})."
        )
        if self.num_skipped_steps > self.max_skipped_steps:
            raise FloatingPointError(
                f"{what} at iteration {iteration}: {self.num_skipped_steps} steps skipped, "
                f"more than max_skipped_steps={self.max_skipped_steps}."
            )
