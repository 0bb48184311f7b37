"""Test-wide setup: fixed seeds, CPU-friendly threads, Triton's interpreter without CUDA."""

from __future__ import annotations

import os
import random
from pathlib import Path

# Triton kernels run under the interpreter on machines without CUDA; this must be
# set before triton.jit decorates anything.
try:
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]

import numpy as np
import pytest

DATA_DIR = Path(__file__).parent / "data"
COCO_SAMPLE_DIR = DATA_DIR / "coco_panoptic_sample"
YOLACT_FIXTURE_DIR = DATA_DIR / "yolact_official_r50"


@pytest.fixture(autouse=True)
def _fixed_seeds() -> None:
    random.seed(0)
    np.random.seed(0)
    if torch is not None:
        torch.manual_seed(0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch is not None and torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def coco_sample_dir() -> Path:
    """The two real COCO panoptic images with annotations (tests/data/coco_panoptic_sample)."""
    return COCO_SAMPLE_DIR


@pytest.fixture
def yolact_fixture_dir() -> Path:
    """Outputs of the authors' YOLACT-R50 on a real image (tests/data/yolact_official_r50)."""
    return YOLACT_FIXTURE_DIR
