"""Resume on torch >= 2.6 with weights_only loading; a resumed run equals an uninterrupted one."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from mmengine.logging import HistoryBuffer

from panoptic.engine.checkpoint_io import load_checkpoint_file


def test_history_buffer_pickles_without_functions(tiny_components: Any) -> None:
    buffer = HistoryBuffer()
    buffer.update(1.5)
    data = pickle.dumps(buffer)
    assert b"getattr" not in data
    restored = pickle.loads(data)
    assert restored.mean() == pytest.approx(1.5)
    assert restored.statistics("max") == pytest.approx(1.5)


def test_mmengine_checkpoint_loads_with_weights_only(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str], tmp_path: Path
) -> None:
    train_in_process("plain", tiny_config(max_iters=3, checkpoint_interval=3))
    ckpt = tmp_path / "plain" / "iter_3.pth"
    loaded = load_checkpoint_file(ckpt)
    assert loaded["meta"]["iter"] == 3
    assert "rng_state" in loaded and "optimizer" in loaded and "param_schedulers" in loaded
    assert isinstance(loaded["message_hub"]["log_scalars"]["train/loss"], HistoryBuffer)


def test_checkpoint_with_arbitrary_global_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"fn": getattr}, path)
    with pytest.raises(pickle.UnpicklingError, match="getattr"):
        load_checkpoint_file(path)


def test_resumed_run_equals_uninterrupted(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str], tmp_path: Path
) -> None:
    full = train_in_process("full", tiny_config(max_iters=6, checkpoint_interval=3))
    # The same schedule (its end stays at 6) stopped after 3 iterations, then resumed.
    train_in_process(
        "split",
        tiny_config(max_iters=6, checkpoint_interval=3).replace("max_iters=6,", "max_iters=3,"),
    )
    resumed = train_in_process(
        "split", tiny_config(max_iters=6, checkpoint_interval=3), resume="auto"
    )
    assert resumed.iter == full.iter == 6
    full_state = full.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, full_state[name], rtol=1e-6, atol=1e-7)
    assert resumed.optim_wrapper.get_lr()["lr"] == pytest.approx(full.optim_wrapper.get_lr()["lr"])
    momentum_full = full.optim_wrapper.optimizer.state_dict()["state"]
    momentum_resumed = resumed.optim_wrapper.optimizer.state_dict()["state"]
    for key, state in momentum_full.items():
        torch.testing.assert_close(
            momentum_resumed[key]["momentum_buffer"], state["momentum_buffer"]
        )


def test_resume_without_rng_state_diverges(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str]
) -> None:
    """The model draws noise from the global RNG: re-seeding alone cannot reproduce the run."""
    text = tiny_config(max_iters=6, checkpoint_interval=3).replace('dict(type="RNGStateHook")', "")
    full = train_in_process("full", text)
    train_in_process("split", text.replace("max_iters=6,", "max_iters=3,"))
    resumed = train_in_process("split", text, resume="auto")
    weight_full = full.model.state_dict()["linear.weight"]
    weight_resumed = resumed.model.state_dict()["linear.weight"]
    assert (weight_full - weight_resumed).abs().max() > 1e-5


def test_plain_weights_only_load_reads_project_checkpoints(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str], tmp_path: Path
) -> None:
    train_in_process("plain", tiny_config(max_iters=3, checkpoint_interval=3))
    checkpoint = torch.load(tmp_path / "plain" / "iter_3.pth", weights_only=True)
    assert checkpoint["meta"]["iter"] == 3
    assert "builtins.getattr" not in torch.serialization.get_safe_globals()
