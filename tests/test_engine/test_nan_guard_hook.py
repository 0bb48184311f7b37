"""A NaN / inf loss stops the run naming iteration and term, or is skipped and counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from panoptic.engine import guarded_optim_wrapper
from panoptic.engine.guarded_optim_wrapper import GuardedOptimWrapper
from panoptic.engine.nan_guard_hook import non_finite_terms


def test_non_finite_terms_names_only_bad_entries() -> None:
    log_vars = {
        "loss": torch.tensor(float("nan")),
        "loss_cls": torch.tensor(0.5),
        "loss_mask": torch.tensor(float("inf")),
        "acc": 1.0,
    }
    assert list(non_finite_terms(log_vars)) == ["loss", "loss_mask"]


def test_nan_loss_stops_at_its_iteration_without_updating(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str], tmp_path: Any
) -> None:
    text = tiny_config(max_iters=6, checkpoint_interval=100, model_args="nan_at_step=4")
    with pytest.raises(FloatingPointError, match=r"loss_aux=nan.*iteration 4") as info:
        train_in_process("nan_stop", text)
    assert "loss=nan" in str(info.value) and "loss_mse" not in str(info.value)


def test_nan_loss_is_skipped_and_counted(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str]
) -> None:
    text = tiny_config(max_iters=6, checkpoint_interval=100, model_args="nan_at_step=4").replace(
        'action="stop"', 'action="skip"'
    )
    runner = train_in_process("nan_skip", text)
    assert runner.iter == 6
    assert runner.message_hub.get_info("train/num_skipped_steps") == 1
    assert runner.optim_wrapper.num_skipped_updates == 1
    for value in runner.model.state_dict().values():
        assert torch.isfinite(value).all()


def test_infinite_gradient_with_finite_loss_is_caught(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str]
) -> None:
    text = tiny_config(max_iters=6, checkpoint_interval=100, model_args="nan_grad_at_step=2")
    with pytest.raises(FloatingPointError, match=r"non-finite gradients.*iteration 2"):
        train_in_process("inf_grad", text)


def test_guarded_wrapper_keeps_parameters_on_nan_loss() -> None:
    model = nn.Linear(3, 1)
    wrapper = GuardedOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = [p.detach().clone() for p in model.parameters()]
    wrapper.update_params(model(torch.ones(2, 3)).sum() * float("nan"))
    assert wrapper.last_update_skipped and wrapper.num_skipped_updates == 1
    for old, new in zip(before, model.parameters()):
        torch.testing.assert_close(old, new.detach())
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    wrapper.update_params(model(torch.ones(2, 3)).sum())
    assert not wrapper.last_update_skipped
    assert not torch.equal(before[0], model.weight.detach())


def test_guarded_wrapper_autocasts_to_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guarded_optim_wrapper, "device_supports_bf16", lambda: True)
    model = nn.Linear(3, 1)
    wrapper = GuardedOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1), autocast_dtype="bfloat16"
    )
    with wrapper.optim_context(model):
        out = model(torch.ones(2, 3))
    assert out.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="autocast_dtype"):
        GuardedOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), autocast_dtype="fp8")


def test_guarded_wrapper_falls_back_to_fp32_without_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guarded_optim_wrapper, "device_supports_bf16", lambda: False)
    model = nn.Linear(3, 1)
    wrapper = GuardedOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1), autocast_dtype="bfloat16"
    )
    assert wrapper.autocast_dtype is None
    with wrapper.optim_context(model):
        assert model(torch.ones(2, 3)).dtype == torch.float32


def test_nan_guard_requires_guarded_wrapper(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str]
) -> None:
    text = tiny_config(max_iters=2, checkpoint_interval=100).replace(
        'type="GuardedOptimWrapper"', 'type="OptimWrapper"'
    )
    with pytest.raises(TypeError, match="GuardedOptimWrapper"):
        train_in_process("plain_wrapper", text)
