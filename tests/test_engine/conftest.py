"""A tiny model, dataset, metric and config for the training-engine tests.

The components are written as a module into a temporary folder so that both
in-process tests and ``tools/train.py`` subprocesses (through the config's
``custom_imports`` and ``PYTHONPATH``) can import them.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_TOOL = REPO_ROOT / "tools" / "train.py"

TINY_COMPONENTS = '''
"""Test-only components: a linear regressor with random noise, so RNG state matters."""
import os
import time

import torch
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel, is_model_wrapper
from torch import nn
from torch.utils.data import Dataset

from panoptic.registry import DATASETS, HOOKS, METRICS, MODELS


@DATASETS.register_module(force=True)
class EngineTestDataset(Dataset):
    metainfo = dict(classes=("a", "b"))

    def __init__(self, size: int = 32) -> None:
        generator = torch.Generator().manual_seed(1234)
        self.inputs = torch.randn(size, 4, generator=generator)
        self.targets = self.inputs @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.25

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.inputs[index], target=self.targets[index])


@MODELS.register_module(force=True)
class EngineTestModel(BaseModel):
    def __init__(self, nan_at_step: int = -1, nan_grad_at_step: int = -1, sleep_s: float = 0.0):
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.nan_at_step = nan_at_step
        self.nan_grad_at_step = nan_grad_at_step
        self.sleep_s = sleep_s
        self.num_loss_calls = 0

    def forward(self, inputs, target, mode="tensor"):
        preds = self.linear(inputs).squeeze(-1)
        if mode != "loss":
            return [dict(pred=p, target=t) for p, t in zip(preds.detach(), target)]
        self.num_loss_calls += 1
        if self.sleep_s:
            time.sleep(self.sleep_s)
        noise = 0.01 * torch.randn_like(preds)  # draws from the global RNG
        loss_mse = ((preds + noise - target) ** 2).mean()
        loss_aux = 0.1 * preds.abs().mean()
        if self.num_loss_calls == self.nan_at_step:
            loss_aux = loss_aux * float("nan")
        if self.num_loss_calls == self.nan_grad_at_step:
            # finite loss, infinite gradient: d/dx sqrt(x) at 0
            loss_aux = loss_aux + torch.sqrt(preds.sum() * 0.0)
        return dict(loss_mse=loss_mse, loss_aux=loss_aux)


@METRICS.register_module(force=True)
class EngineTestMetric(BaseMetric):
    default_prefix = "panoptic"

    def process(self, data_batch, data_samples):
        for sample in data_samples:
            self.results.append(float((sample["pred"] - sample["target"]) ** 2))

    def compute_metrics(self, results):
        return dict(PQ=100.0 / (1.0 + sum(results) / len(results)))


@HOOKS.register_module(force=True)
class DumpParamsHook(Hook):
    """Writes each rank's final parameters to <work_dir>/params_rank<r>.pt."""

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        torch.save(state, os.path.join(runner.work_dir, f"params_rank{get_rank()}.pt"))
'''


def tiny_config_text(
    max_iters: int = 6,
    checkpoint_interval: int = 3,
    val_interval: int = 1000,
    model_args: str = "",
    extra: str = "",
) -> str:
    """A full training config around the tiny components (python config source)."""
    return textwrap.dedent(
        f"""
        default_scope = "panoptic"
        custom_imports = dict(imports=["engine_test_components"], allow_failed_imports=False)
        model = dict(type="EngineTestModel", {model_args})
        train_dataloader = dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type="InfiniteSampler", shuffle=True),
            collate_fn=dict(type="default_collate"),
            dataset=dict(type="EngineTestDataset", size=32),
        )
        val_dataloader = dict(
            batch_size=8,
            num_workers=0,
            sampler=dict(type="DefaultSampler", shuffle=False),
            collate_fn=dict(type="default_collate"),
            dataset=dict(type="EngineTestDataset", size=16),
        )
        val_evaluator = dict(type="EngineTestMetric")
        train_cfg = dict(
            type="ResumableIterBasedTrainLoop", max_iters={max_iters}, val_interval={val_interval}
        )
        val_cfg = dict(type="ValLoop")
        optim_wrapper = dict(
            type="GuardedOptimWrapper",
            optimizer=dict(type="SGD", lr=0.05, momentum=0.9),
            clip_grad=dict(max_norm=10.0),
        )
        param_scheduler = [
            dict(type="LinearLR", start_factor=0.2, by_epoch=False, begin=0, end=2),
            dict(
                type="MultiStepLR", milestones=[4], gamma=0.5, by_epoch=False, begin=0,
                end={max_iters},
            ),
        ]
        default_hooks = dict(
            checkpoint=dict(
                type="AtomicCheckpointHook",
                interval={checkpoint_interval},
                by_epoch=False,
                max_keep_ckpts=2,
                save_best="panoptic/PQ",
                rule="greater",
            ),
            logger=dict(type="LoggerHook", interval=1),
        )
        custom_hooks = [dict(type="NanGuardHook", action="stop"), dict(type="RNGStateHook")]
        randomness = dict(seed=7, deterministic=True)
        log_processor = dict(by_epoch=False)
        """
    ) + textwrap.dedent(extra)


@pytest.fixture
def components_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder holding ``engine_test_components.py``, importable while the test runs."""
    folder = tmp_path / "components"
    folder.mkdir()
    (folder / "engine_test_components.py").write_text(TINY_COMPONENTS)
    sys.path.insert(0, str(folder))
    sys.modules.pop("engine_test_components", None)
    yield folder
    sys.path.remove(str(folder))
    sys.modules.pop("engine_test_components", None)


@pytest.fixture
def tiny_components(components_dir: Path) -> ModuleType:
    """The imported test components module."""
    import panoptic.engine  # noqa: F401  (hooks, loop, optim wrapper, safe loading)

    return importlib.import_module("engine_test_components")


@pytest.fixture
def subprocess_env(components_dir: Path) -> dict[str, str]:
    """Environment for ``tools/train.py`` subprocesses: components importable, 1 thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(components_dir), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def train_in_process(tiny_components: ModuleType, tmp_path: Path) -> Callable[..., Any]:
    """Train a tiny config in this process; returns the finished Runner."""
    from panoptic.engine.training import prepare_train_config, train

    def run(name: str, config_text: str, resume: str | None = None, **kwargs: Any) -> Any:
        config = tmp_path / f"{name}.py"
        config.write_text(config_text)
        cfg = prepare_train_config(config, work_dir=tmp_path / name, resume=resume, **kwargs)
        # A fresh message hub and logger per run (mmengine keys them by experiment name).
        cfg.experiment_name = f"{name}_{uuid.uuid4().hex[:8]}"
        return train(cfg)

    return run


@pytest.fixture
def tiny_config() -> Callable[..., str]:
    """:func:`tiny_config_text`, the config source builder."""
    return tiny_config_text
