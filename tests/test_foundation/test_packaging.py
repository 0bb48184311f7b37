"""``panoptic`` and ``panoptic.ops`` install together, editable or not."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_editable_import_of_ops() -> None:
    import panoptic.ops

    assert Path(panoptic.ops.__file__).resolve().parent == ROOT / "ops"


@pytest.mark.slow
def test_regular_install_ships_ops_as_subpackage(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(ROOT),
        ],
        check=True,
    )
    wheel = next((tmp_path / "wheel").glob("panoptic-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "panoptic/ops/__init__.py" in names
    assert not any(name.startswith("ops/") for name in names), "no top-level ops module"
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    probe = "import panoptic, panoptic.ops; print(panoptic.ops.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.strip().startswith(str(target))
