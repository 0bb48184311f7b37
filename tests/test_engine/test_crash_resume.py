"""``kill -9`` in the middle of tools/train.py, then ``--resume``: nothing lost, same result."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from panoptic.engine.checkpoint_io import load_checkpoint_file

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_TOOL = REPO_ROOT / "tools" / "train.py"


def _train_command(config: Path, work_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(TRAIN_TOOL), str(config), "--work-dir", str(work_dir), *extra]


def _pointed_iteration(work_dir: Path) -> int:
    pointer = work_dir / "last_checkpoint"
    if not pointer.is_file():
        return 0
    return int(Path(pointer.read_text()).stem.split("_")[-1])


@pytest.mark.slow
def test_sigkill_then_resume_finishes_like_an_uninterrupted_run(
    tiny_config: Callable[..., str], subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "tiny.py"
    config.write_text(
        tiny_config(max_iters=30, checkpoint_interval=5, val_interval=10, model_args="sleep_s=0.1")
    )
    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(
        _train_command(config, killed_dir),
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while _pointed_iteration(killed_dir) < 15 and process.poll() is None:
        assert time.monotonic() < deadline, "training made no checkpoint in time"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = _pointed_iteration(killed_dir)
    assert 15 <= killed_at < 30
    # The pointer names a complete checkpoint, whatever moment the kill hit.
    assert load_checkpoint_file(killed_dir / f"iter_{killed_at}.pth")["meta"]["iter"] == killed_at

    resumed = subprocess.run(
        _train_command(config, killed_dir, "--resume"),
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed epoch: 0, iter: {killed_at}" in resumed.stdout + resumed.stderr

    straight_dir = tmp_path / "straight"
    straight = subprocess.run(
        _train_command(config, straight_dir),
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert straight.returncode == 0, straight.stderr[-3000:]

    final = load_checkpoint_file(killed_dir / "iter_30.pth")
    assert final["meta"]["iter"] == 30
    assert (killed_dir / "last_checkpoint").read_text() == str(killed_dir / "iter_30.pth")
    kept = final["message_hub"]["runtime_info"]["keep_ckpt_ids"]
    assert kept == [25, 30]
    assert all((killed_dir / f"iter_{step}.pth").is_file() for step in kept)
    assert not list(killed_dir.glob(".*.tmp"))
    reference = load_checkpoint_file(straight_dir / "iter_30.pth")
    for name, value in reference["state_dict"].items():
        torch.testing.assert_close(final["state_dict"][name], value, rtol=1e-5, atol=1e-6)
