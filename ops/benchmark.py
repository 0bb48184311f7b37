"""Kernel-versus-reference timings of the ops at YOLACT's sizes, with memory traffic on paper.

``tools/benchmark_ops.py`` is the command-line entry point. On CUDA both backends are timed with
``triton.testing.do_bench``; on the CPU only the references are timed (the interpreter says
nothing about GPU speed).

Traffic "on paper" counts the bytes each implementation must move through DRAM: every tensor an
eager reference materialises is written once and read once by the next operation; the kernels
read their inputs and write their outputs only. Shape legend: C classes, k candidates per class,
N masks, H/W prototype size, K prototypes, h/w output size.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from tqdm import tqdm

from panoptic.ops.fast_nms import fast_nms
from panoptic.ops.prototype_assembly import assemble_masks

__all__ = [
    "BenchmarkResult",
    "assembly_traffic",
    "fast_nms_traffic",
    "run_benchmarks",
]

_FLOAT = 4


def fast_nms_traffic(num_classes: int, num_cand: int) -> tuple[int, int]:
    """Bytes moved by the keep-flag computation of Fast NMS (sorting, shared by both, excluded).

    The reference materialises, per pair of candidates: the two (.., 2) corner tensors, their
    difference, its clamp (8 bytes each), the intersection, the summed areas, the union, the
    IoU and its upper triangle (4 bytes each), each written once and read once.

    Returns:
        ``(reference_bytes, kernel_bytes)``.
    """
    pairs = num_classes * num_cand * num_cand
    per_pair = 2 * (4 * 2 * _FLOAT + 5 * _FLOAT)
    gathered = num_classes * num_cand * 4 * _FLOAT
    reference = pairs * per_pair + 2 * gathered
    # The kernel reads the order (int64) and the gathered boxes, and writes one byte per flag.
    kernel = num_classes * num_cand * (8 + 4 * _FLOAT + 1)
    return reference, kernel


def assembly_traffic(
    num_masks: int,
    proto_hw: tuple[int, int],
    num_protos: int,
    out_hw: tuple[int, int] | None,
    thresholded: bool,
) -> tuple[int, int]:
    """Bytes moved by mask assembly.

    The reference materialises at prototype resolution the matmul result, the sigmoid, the crop
    (four bool comparisons, three ANDs, the float mask, the product) and the permuted copy; at
    output resolution the resized float masks and, when thresholded, the bool masks. Every
    tensor but the last is written once and read once; the last is only written.

    Returns:
        ``(reference_bytes, kernel_bytes)``.
    """
    height, width = proto_hw
    inputs = height * width * num_protos * _FLOAT + num_masks * (num_protos + 4) * _FLOAT
    at_protos = num_masks * height * width
    intermediates = at_protos * (2 * _FLOAT + 4 * 1 + 3 * 1 + _FLOAT + _FLOAT)
    stages = [at_protos * _FLOAT]  # the permuted (N, H, W) copy
    if out_hw is not None:
        stages.append(num_masks * out_hw[0] * out_hw[1] * _FLOAT)
    if thresholded:
        stages.append(stages[-1] // _FLOAT)
    reference = inputs + 2 * intermediates + 2 * sum(stages[:-1]) + stages[-1]
    return reference, inputs + stages[-1]


@dataclass(frozen=True)
class BenchmarkResult:
    """One timed case: milliseconds and bytes on paper per backend (kernel fields None on CPU)."""

    name: str
    reference_ms: float
    reference_bytes: int
    kernel_ms: float | None
    kernel_bytes: int

    @property
    def speedup(self) -> float | None:
        return None if self.kernel_ms is None else self.reference_ms / self.kernel_ms

    def bandwidth_gbs(self, backend: str) -> float | None:
        """Achieved bandwidth in GB/s: bytes on paper over the measured time."""
        ms = self.reference_ms if backend == "reference" else self.kernel_ms
        num_bytes = self.reference_bytes if backend == "reference" else self.kernel_bytes
        return None if ms is None else num_bytes / (ms * 1e-3) / 1e9


def _time_cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def _time_cuda_ms(fn: Callable[[], object]) -> float:
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))


def _nms_inputs(
    num_classes: int, num_boxes: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x1y1 = torch.rand(num_boxes, 2, generator=generator) * 0.8
    wh = torch.rand(num_boxes, 2, generator=generator) * 0.3 + 0.01
    boxes = torch.cat([x1y1, x1y1 + wh], dim=1)
    scores = torch.rand(num_classes, num_boxes, generator=generator)
    return boxes.to(device), scores.to(device)


def _assembly_inputs(
    num_masks: int, proto_hw: tuple[int, int], num_protos: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    protos = torch.relu(torch.randn(*proto_hw, num_protos, generator=generator))
    coeffs = torch.tanh(torch.randn(num_masks, num_protos, generator=generator))
    x1y1 = torch.rand(num_masks, 2, generator=generator) * 0.7
    boxes = torch.cat([x1y1, x1y1 + torch.rand(num_masks, 2, generator=generator) * 0.3], dim=1)
    return protos.to(device), coeffs.to(device), boxes.to(device)


def run_benchmarks(
    device: torch.device,
    num_classes: int = 80,
    num_boxes: int = 1000,
    top_k: int = 200,
    num_masks: int = 100,
    proto_size: int = 138,
    num_protos: int = 32,
    out_sizes: tuple[tuple[int, int], ...] = ((550, 550), (1080, 1920)),
    repeats: int = 5,
) -> list[BenchmarkResult]:
    """Times Fast NMS and mask assembly at the given sizes.

    Args:
        device: CUDA (both backends, ``do_bench``) or CPU (references only, median of
            ``repeats`` wall-clock runs).
        num_classes: classes C of Fast NMS.
        num_boxes: boxes entering Fast NMS (anchors above the confidence threshold).
        top_k: candidates per class.
        num_masks: detections N to assemble.
        proto_size: prototype height and width.
        num_protos: prototypes K.
        out_sizes: image sizes (h, w) to assemble thresholded masks at.
        repeats: CPU timing repeats.

    Returns:
        One result per case, in order: Fast NMS, assembly at prototype resolution, assembly at
        each output size.
    """
    on_cuda = device.type == "cuda"

    def timed(fn: Callable[[], object]) -> float:
        return _time_cuda_ms(fn) if on_cuda else _time_cpu_ms(fn, repeats)

    boxes, scores = _nms_inputs(num_classes, num_boxes, device)
    protos, coeffs, mask_boxes = _assembly_inputs(
        num_masks, (proto_size, proto_size), num_protos, device
    )
    proto_hw = (proto_size, proto_size)
    cases: list[tuple[str, Callable[..., object], tuple[int, int]]] = [
        (
            f"fast_nms {num_classes} classes x {top_k} of {num_boxes} boxes",
            partial(fast_nms, boxes, scores, 0.5, top_k, 100),
            fast_nms_traffic(num_classes, min(top_k, num_boxes)),
        ),
        (
            f"assemble_masks {num_masks} x {proto_size}^2 x {num_protos} (probs)",
            partial(assemble_masks, protos, coeffs, mask_boxes),
            assembly_traffic(num_masks, proto_hw, num_protos, None, False),
        ),
    ]
    for out_hw in out_sizes:
        cases.append(
            (
                f"assemble_masks {num_masks} x {proto_size}^2 -> {out_hw[0]}x{out_hw[1]} bool",
                partial(assemble_masks, protos, coeffs, mask_boxes, out_hw, 0.5),
                assembly_traffic(num_masks, proto_hw, num_protos, out_hw, True),
            )
        )
    results = []
    for name, run, (reference_bytes, kernel_bytes) in tqdm(cases, desc="benchmark", unit="case"):
        reference_ms = timed(partial(run, backend="reference"))
        kernel_ms = timed(partial(run, backend="triton")) if on_cuda else None
        results.append(
            BenchmarkResult(name, reference_ms, reference_bytes, kernel_ms, kernel_bytes)
        )
    return results
