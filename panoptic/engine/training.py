"""Turn a config file and command-line choices into a checked config and a training run.

``tools/train.py`` is a thin argparse wrapper over :func:`prepare_train_config`
and :func:`train`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from panoptic.engine.config_check import ConfigError, check_config
from panoptic.engine.launcher import cpu_model_wrapper_cfg, init_cpu_process_group
from panoptic.engine.precision import PRECISIONS, device_supports_bf16

__all__ = ["DictAction", "prepare_train_config", "train"]


def prepare_train_config(
    config: str | Path,
    work_dir: str | Path | None = None,
    resume: str | None = None,
    precision: str | None = None,
    cfg_options: dict[str, Any] | None = None,
    launcher: str = "none",
    seed: int | None = None,
    deterministic: bool = False,
) -> Config:
    """Load ``config``, apply the command-line choices and check every component.

    Args:
        config: Path of an mmengine python config.
        work_dir: Output folder; default ``cfg.work_dir`` or
            ``work_dirs/<config name>``.
        resume: ``None`` (no resume), ``"auto"`` (the ``last_checkpoint`` of
            ``work_dir``, if any) or a checkpoint path.
        precision: ``"fp32"``, ``"bf16"`` (autocast; falls back to fp32 with a
            warning where the device has no bf16 arithmetic) or ``None`` to
            keep the config's choice.
        cfg_options: ``key.sub=value`` overrides, merged before checking.
        launcher: ``"none"``, ``"pytorch"`` or ``"slurm"``.
        seed: Overrides ``randomness.seed``.
        deterministic: Ask for deterministic algorithms (slower).

    Returns:
        The config to hand to :func:`train`.

    Raises:
        FileNotFoundError: If ``config`` or an explicit ``resume`` file is missing.
        ConfigError: On unknown component types or keywords (naming the key).
    """
    config = Path(config)
    if not config.is_file():
        raise FileNotFoundError(f"config file {config} does not exist")
    try:
        cfg = Config.fromfile(str(config))
    except (KeyError, SyntaxError, ImportError, NameError, TypeError, ValueError) as error:
        raise ConfigError(f"cannot read config {config}: {error}") from error
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher

    if work_dir is not None:
        cfg.work_dir = str(work_dir)
    elif cfg.get("work_dir") is None:
        cfg.work_dir = str(Path("work_dirs") / config.stem)

    if resume == "auto":
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        if not Path(resume).is_file():
            raise FileNotFoundError(f"--resume checkpoint {resume} does not exist")
        cfg.resume = True
        cfg.load_from = str(resume)

    randomness = dict(cfg.get("randomness") or {})
    if seed is not None:
        randomness["seed"] = seed
    if deterministic:
        randomness["deterministic"] = True
        # cuBLAS needs this to be deterministic; harmless without CUDA.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    cfg.randomness = randomness

    if precision is not None:
        _set_precision(cfg, precision)

    if launcher != "none" and not torch.cuda.is_available():
        cfg.model_wrapper_cfg = cpu_model_wrapper_cfg(
            find_unused_parameters=bool(cfg.get("find_unused_parameters", False))
        )
        env_cfg = dict(cfg.get("env_cfg") or {})
        env_cfg["dist_cfg"] = dict(backend="gloo")
        cfg.env_cfg = env_cfg

    check_config(cfg)
    return cfg


def _set_precision(cfg: Config, precision: str) -> None:
    """Point ``cfg.optim_wrapper`` at bf16 autocast or fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "bf16" and not device_supports_bf16():
        print_log(
            "--precision bf16: this device has no native bf16 arithmetic; training in fp32.",
            logger="current",
            level=logging.WARNING,
        )
        precision = "fp32"
    optim_wrapper = dict(cfg.optim_wrapper)
    if optim_wrapper.get("type", "OptimWrapper") not in ("OptimWrapper", "GuardedOptimWrapper"):
        raise ValueError(
            f"--precision needs optim_wrapper.type='GuardedOptimWrapper', "
            f"the config has {optim_wrapper['type']!r}"
        )
    optim_wrapper["type"] = "GuardedOptimWrapper"
    optim_wrapper["autocast_dtype"] = "bfloat16" if precision == "bf16" else None
    cfg.optim_wrapper = optim_wrapper


def train(cfg: Config) -> Runner:
    """Build mmengine's Runner from a prepared config and train.

    Args:
        cfg: As returned by :func:`prepare_train_config`.

    Returns:
        The runner after training (``runner.model`` holds the trained model).
    """
    init_cpu_process_group(cfg.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner
