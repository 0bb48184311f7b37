"""Process-group set-up for multi-process training without CUDA.

mmengine's ``pytorch`` and ``slurm`` launchers call ``torch.cuda.set_device``
unconditionally and its default DDP wrapper pins ``device_ids=[LOCAL_RANK]``,
so CPU-only multi-process training fails twice. With CUDA, mmengine's own
launcher is used unchanged (NCCL, one GPU per process).
"""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import torch
import torch.distributed as dist

LAUNCHERS = ("none", "pytorch", "slurm")


def slurm_to_torch_env(default_port: int = 29500) -> None:
    """Fill the ``torch.distributed`` environment variables from Slurm's.

    Sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, and (unless already set)
    ``MASTER_ADDR`` (first host of ``SLURM_NODELIST``) and ``MASTER_PORT``.

    Raises:
        RuntimeError: Outside a Slurm job step (``SLURM_PROCID`` unset).
    """
    if "SLURM_PROCID" not in os.environ:
        raise RuntimeError("--launcher slurm needs to run inside `srun` (SLURM_PROCID is unset).")
    os.environ["RANK"] = os.environ["SLURM_PROCID"]
    os.environ["WORLD_SIZE"] = os.environ["SLURM_NTASKS"]
    os.environ["LOCAL_RANK"] = os.environ.get("SLURM_LOCALID", "0")
    os.environ.setdefault("MASTER_PORT", str(default_port))
    if "MASTER_ADDR" not in os.environ:
        hosts = subprocess.run(
            ["scontrol", "show", "hostnames", os.environ["SLURM_NODELIST"]],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        os.environ["MASTER_ADDR"] = hosts[0]


def init_cpu_process_group(launcher: str, timeout_s: int = 1800) -> bool:
    """Start a gloo process group when ``launcher`` asks for several processes and CUDA is absent.

    Args:
        launcher: ``"none"``, ``"pytorch"`` (torchrun sets the environment) or
            ``"slurm"``.
        timeout_s: Collective timeout in seconds.

    Returns:
        ``True`` if this call initialised a CPU process group, ``False`` when
        there is nothing to do (single process, CUDA present, or already
        initialised).

    Raises:
        ValueError: On an unknown launcher.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f"--launcher must be one of {LAUNCHERS}, got {launcher!r}")
    if launcher == "none" or torch.cuda.is_available() or dist.is_initialized():
        return False
    if launcher == "slurm":
        slurm_to_torch_env()
    dist.init_process_group(
        backend="gloo", init_method="env://", timeout=timedelta(seconds=timeout_s)
    )
    return True


def cpu_model_wrapper_cfg(find_unused_parameters: bool = False) -> dict:
    """DDP wrapper config for CPU processes: no ``device_ids``.

    Args:
        find_unused_parameters: As for ``DistributedDataParallel``; needed when
            some parameters get no gradient in a step.
    """
    return dict(
        type="MMDistributedDataParallel",
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=find_unused_parameters,
    )
