"""Carry the random number generators' state through checkpoints.

mmengine stores only the seed in a checkpoint, so a resumed run re-seeds and
draws different random numbers (augmentations, sampling of negatives) than an
uninterrupted run would have. This hook stores the Python, numpy and torch
(CPU and CUDA) generator states at each save and puts them back when a resumed
run has fast-forwarded its data loader to the saved iteration. Validation runs
with the training stream set aside (its data loader draws a seed), so the
training stream does not depend on when, or whether, validation ran.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook

from panoptic.registry import HOOKS

RNG_STATE_KEY = "rng_state"


def capture_rng_state() -> dict[str, Any]:
    """The current state of every global generator, in ``weights_only``-loadable types.

    Returns:
        Dict with ``python`` (version, tuple of ints, gauss), ``numpy``
        (``np.random.get_state()`` tuple), ``torch`` (uint8 tensor) and
        ``cuda`` (list of uint8 tensors, empty without CUDA).
    """
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back a state captured by :func:`capture_rng_state`.

    Args:
        state: As returned by :func:`capture_rng_state` (possibly after a
            checkpoint round trip, which turns tuples into tuples or lists).
    """
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(state["numpy"]))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save generator states into checkpoints; restore them after a resume's fast-forward.

    Also shields the training stream from validation: the state before a
    validation epoch is put back after it.

    Restoring happens in ``after_train_fast_forward``, a hook point called by
    :class:`~panoptic.engine.resumable_train_loop.ResumableIterBasedTrainLoop`
    once it has skipped the already trained batches, so the skipped batches'
    augmentations do not shift the restored stream. Loading weights with
    ``load_from`` (iteration 0) never restores anything.
    """

    # Before CheckpointHook's after_val_epoch, which re-saves the step checkpoint.
    priority = "HIGHEST"

    def __init__(self) -> None:
        self._pending_state: dict[str, Any] | None = None
        self._train_state: dict[str, Any] | None = None

    def before_val_epoch(self, runner: Any) -> None:
        self._train_state = capture_rng_state()

    def after_val_epoch(self, runner: Any, metrics: dict | None = None) -> None:
        if self._train_state is not None:
            restore_rng_state(self._train_state)
        self._train_state = None

    def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        checkpoint[RNG_STATE_KEY] = capture_rng_state()

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        self._pending_state = checkpoint.get(RNG_STATE_KEY)

    def after_train_fast_forward(self, runner: Any) -> None:
        """Restore the state of the loaded checkpoint (called once by the train loop)."""
        if self._pending_state is not None:
            restore_rng_state(self._pending_state)
            runner.logger.info("Restored the random generators' state from the checkpoint.")
        self._pending_state = None
