"""Atomic checkpoints: latest and best kept, pointer last, no torn or stale files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from panoptic.engine.checkpoint_io import atomic_write_bytes, load_checkpoint_file


def test_latest_and_best_are_kept_and_pointer_is_last(
    train_in_process: Callable[..., Any], tiny_config: Callable[..., str], tmp_path: Path
) -> None:
    work_dir = tmp_path / "run"
    work_dir.mkdir()
    (work_dir / ".iter_99.pth.tmp").write_bytes(b"torn")  # left by a killed save
    train_in_process("run", tiny_config(max_iters=6, checkpoint_interval=2, val_interval=2))
    names = sorted(p.name for p in work_dir.iterdir() if p.suffix in (".pth", ".tmp"))
    best = [n for n in names if n.startswith("best_panoptic_PQ_iter_")]
    assert len(best) == 1
    assert sorted(set(names) - set(best)) == ["iter_4.pth", "iter_6.pth"]
    assert (work_dir / "last_checkpoint").read_text() == str(work_dir / "iter_6.pth")
    latest = load_checkpoint_file(work_dir / "iter_6.pth")
    assert latest["meta"]["iter"] == 6
    assert latest["message_hub"]["runtime_info"]["best_ckpt"] == str(work_dir / best[0])
    assert "optimizer" not in load_checkpoint_file(work_dir / best[0])


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "last_checkpoint"
    atomic_write_bytes(b"old", target)

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(b"new", target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["last_checkpoint"]
