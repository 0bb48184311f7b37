"""An iteration-based train loop whose resume reproduces the uninterrupted run."""

from __future__ import annotations

import logging

from mmengine.logging import print_log
from mmengine.registry import LOOPS
from mmengine.runner import IterBasedTrainLoop
from torch import nn


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` that calls ``after_train_fast_forward`` after skipping data.

    A resumed run first draws the already trained batches from the (seeded)
    data loader so that the sampler and worker streams line up, then lets
    hooks such as :class:`~panoptic.engine.rng_state_hook.RNGStateHook` put
    back the generator state saved with the checkpoint. Registered in
    mmengine's root ``LOOPS`` registry (the project scope has no loop
    registry), so ``train_cfg=dict(type="ResumableIterBasedTrainLoop", ...)``.
    """

    def run(self) -> nn.Module:
        """Train until ``max_iters`` (or a hook sets ``stop_training``)."""
        self.runner.call_hook("before_train")
        self.runner.call_hook("before_train_epoch")
        if self._iter > 0:
            print_log(
                f"Fast-forwarding the data loader by {self._iter} batches to the resumed "
                "iteration.",
                logger="current",
                level=logging.INFO,
            )
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            self.runner.call_hook("after_train_fast_forward")
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (
                self.runner.val_loop is not None
                and self._iter >= self.val_begin
                and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)
            ):
                self.runner.val_loop.run()
        self.runner.call_hook("after_train_epoch")
        self.runner.call_hook("after_train")
        return self.runner.model
