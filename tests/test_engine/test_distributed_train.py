"""Two CPU processes under torchrun (gloo) train and end with identical parameters."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from panoptic.engine.checkpoint_io import load_checkpoint_file

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_ranks_stay_identical(
    tiny_config: Callable[..., str], subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "tiny.py"
    config.write_text(
        tiny_config(
            max_iters=4,
            checkpoint_interval=4,
            extra='custom_hooks.append(dict(type="DumpParamsHook"))\n',
        )
    )
    work_dir = tmp_path / "dist"
    env = dict(subprocess_env, CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes=1",
            "--nproc_per_node=2",
            "--master_addr=127.0.0.1",
            f"--master_port={_free_port()}",
            str(REPO_ROOT / "tools" / "train.py"),
            str(config),
            "--work-dir",
            str(work_dir),
            "--launcher",
            "pytorch",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(work_dir / "params_rank0.pt", weights_only=True)
    rank1 = torch.load(work_dir / "params_rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0)
    checkpoint = load_checkpoint_file(work_dir / "iter_4.pth")
    assert checkpoint["meta"]["iter"] == 4
    torch.testing.assert_close(checkpoint["state_dict"]["linear.weight"], rank0["linear.weight"])
    assert "Distributed training: True" in result.stdout + result.stderr
