"""The benchmark library (traffic on paper, CPU timing path) and tools/benchmark_ops.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch

from panoptic.ops.benchmark import assembly_traffic, fast_nms_traffic, run_benchmarks

TOOL_PATH = Path(__file__).parents[2] / "tools" / "benchmark_ops.py"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_ops_tool", TOOL_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fast_nms_traffic_counts_pairs_and_flags() -> None:
    reference, kernel = fast_nms_traffic(num_classes=2, num_cand=3)
    # 18 pairs x 104 bytes of pairwise intermediates, plus the gathered boxes written and read.
    assert reference == 18 * 104 + 2 * 2 * 3 * 16
    # Per candidate: its int64 index, its box, one flag byte.
    assert kernel == 2 * 3 * (8 + 16 + 1)


def test_assembly_traffic_counts_every_stage() -> None:
    inputs = 2 * 3 * 4 * 4 + 5 * (4 + 4) * 4
    reference, kernel = assembly_traffic(5, (2, 3), 4, None, False)
    at_protos = 5 * 2 * 3
    assert reference == inputs + 2 * at_protos * 23 + at_protos * 4
    assert kernel == inputs + at_protos * 4
    reference, kernel = assembly_traffic(5, (2, 3), 4, (7, 11), True)
    at_out = 5 * 7 * 11
    assert reference == inputs + 2 * at_protos * 23 + 2 * (at_protos * 4 + at_out * 4) + at_out
    assert kernel == inputs + at_out
    # At image size the reference moves roughly 9 bytes per output pixel, the kernel 1.
    reference, kernel = assembly_traffic(100, (138, 138), 32, (1080, 1920), True)
    assert 8.5 < reference / kernel < 10


def test_run_benchmarks_on_cpu_times_references_only() -> None:
    results = run_benchmarks(
        torch.device("cpu"),
        num_classes=3,
        num_boxes=20,
        top_k=10,
        num_masks=4,
        proto_size=9,
        num_protos=5,
        out_sizes=((17, 23),),
        repeats=2,
    )
    assert [r.name.split()[0] for r in results] == ["fast_nms", "assemble_masks", "assemble_masks"]
    for result in results:
        assert result.reference_ms > 0
        assert result.kernel_ms is None and result.speedup is None
        assert result.bandwidth_gbs("kernel") is None
        assert result.bandwidth_gbs("reference") > 0
        assert result.kernel_bytes < result.reference_bytes


def test_tool_runs_on_cpu_and_says_gpu_timings_need_a_gpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tool = load_tool()
    argv = ["--device", "cpu", "--num-classes", "2", "--num-boxes", "12", "--top-k", "6"]
    argv += ["--num-masks", "3", "--proto-size", "8", "--num-protos", "4"]
    argv += ["--out-sizes", "10x14", "--repeats", "1"]
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert "device: CPU" in out
    assert "10x14 bool" in out
    assert "need a GPU" in out


def test_tool_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool()
    with pytest.raises(SystemExit):
        tool.parse_args(["--out-sizes", "1080by1920"])
    assert "1080x1920" in capsys.readouterr().err
    assert tool.main(["--device", "tpu"]) == 2
    assert "--device" in capsys.readouterr().err
