"""Latency, FLOPs and precision drift of the YOLACT pipeline, for ``tools/benchmark.py``.

Legend: N detections, H/W image height and width.

Stages are timed one after the other inside one run, so the per-stage medians and
the total come from the same runs. ``bf16`` means CPU/GPU autocast to bfloat16 with
the model and input in channels-last memory format; detection and mask assembly
always run in float32.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from panoptic.apis import yolact_test_preprocess
from panoptic.models.heads.yolact_postprocess import instances_to_image
from panoptic.models.yolact import Yolact
from panoptic.structures.box_ops import box_iou
from panoptic.structures.panoptic_data_sample import PanopticDataSample

STAGES = (
    "preprocess",
    "backbone",
    "fpn",
    "protonet",
    "head",
    "nms",
    "assembly",
    "semantic",
    "panoptic",
    "total",
)
PRECISIONS = ("fp32", "bf16")


@dataclass
class BenchmarkResult:
    """Timings (seconds) per stage of every run, and the last run's detections."""

    times: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    instances: InstanceData | None = None

    def median(self, stage: str) -> float:
        """Median seconds of ``stage`` over the runs."""
        return statistics.median(self.times[stage])

    def best(self, stage: str) -> float:
        """Fastest run of ``stage`` in seconds."""
        return min(self.times[stage])


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of ``precision`` ("fp32": none, "bf16": bfloat16 autocast)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def prepare_model(model: Yolact, precision: str) -> Yolact:
    """The model ready for timed inference in ``precision`` (in place).

    ``fp32`` only switches to eval mode: the model stays exactly the one that
    matches the authors. ``bf16`` also folds the backbone's BatchNorms into its
    convs, moves the model to channels-last, and stores the conv weights in
    bfloat16 once, which autocast would otherwise cast again at every call (the
    arithmetic is the same: autocast runs those convs in bfloat16 anyway).
    """
    model.eval()
    if precision == "bf16":
        fold = getattr(model.backbone, "fold_batch_norm", None)
        if fold is not None:
            fold()
        model.to(memory_format=torch.channels_last)
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.to(torch.bfloat16)
    return model


@contextlib.contextmanager
def _timed(times: dict[str, list[float]], stage: str, device: torch.device) -> Iterator[None]:
    _synchronize(device)
    start = time.perf_counter()
    yield
    _synchronize(device)
    times[stage].append(time.perf_counter() - start)


@torch.inference_mode()
def run_stages(
    model: Yolact,
    image_bgr: np.ndarray,
    precision: str,
    repeat: int,
    warmup: int = 2,
) -> BenchmarkResult:
    """Time every stage of YOLACT inference on one image.

    Args:
        model: a :class:`~panoptic.models.yolact.Yolact` (or subclass) built by
            ``init_model`` and passed through :func:`prepare_model`.
        image_bgr: (H, W, 3) uint8 BGR image.
        precision: "fp32" or "bf16".
        repeat: timed runs.
        warmup: untimed runs first.

    Returns:
        The per-stage timings and the detections of the last run.
    """
    device = next(model.parameters()).device
    preprocessor = model.cfg.model.data_preprocessor
    size = int(model.instance_head.prior_generator.base_size)
    head = model.instance_head
    memory_format = torch.channels_last if precision == "bf16" else torch.contiguous_format
    result = BenchmarkResult()
    for run in range(warmup + repeat):
        times: dict[str, list[float]] = {s: [] for s in STAGES}
        _synchronize(device)
        start = time.perf_counter()
        with _timed(times, "preprocess", device):
            inputs = yolact_test_preprocess(
                image_bgr,
                (size, size),
                tuple(preprocessor["mean"]),
                tuple(preprocessor["std"]),
                bool(preprocessor.get("bgr_to_rgb", False)),
            )
            inputs = inputs.to(device).contiguous(memory_format=memory_format)
        with autocast_context(precision, device):
            with _timed(times, "backbone", device):
                features = model.backbone(inputs)
            with _timed(times, "fpn", device):
                pyramid = model.neck(features)
            with _timed(times, "protonet", device):
                protos = model.protonet(pyramid["p3"])
            with _timed(times, "head", device):
                outputs = head(pyramid)
        with _timed(times, "nms", device):
            detections = head.detect(outputs)[0]
        with _timed(times, "assembly", device):
            instances = instances_to_image(
                detections, protos[0], image_bgr.shape[:2], mask_thresh=head.mask_thresh
            )
        _run_panoptic_stages(model, pyramid, protos, instances, image_bgr, size, precision, times)
        _synchronize(device)
        times["total"].append(time.perf_counter() - start)
        if run >= warmup:
            for stage in STAGES:
                result.times[stage] += times[stage]
    result.instances = instances
    return result


def _run_panoptic_stages(
    model: Yolact,
    pyramid: dict[str, Tensor],
    protos: Tensor,
    instances: InstanceData,
    image_bgr: np.ndarray,
    size: int,
    precision: str,
    times: dict[str, list[float]],
) -> None:
    """Time the semantic head and the panoptic fusion of a ``PanopticYolact``.

    Instance-only models get 0 s for both stages.
    """
    if not hasattr(model, "panoptic_head"):
        times["semantic"].append(0.0)
        times["panoptic"].append(0.0)
        return
    device = protos.device
    with autocast_context(precision, device), _timed(times, "semantic", device):
        sem_logits = model.semantic_head(pyramid)
    with _timed(times, "panoptic", device):
        sample = PanopticDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=tuple(image_bgr.shape[:2]),
                batch_input_shape=(size, size),
            )
        )
        sample.pred_instances = instances
        model.predict_panoptic({"protos": protos, "sem_logits": sem_logits}, [sample])


def count_flops(model: nn.Module, inputs: Tensor) -> int:
    """FLOPs of one forward pass of the network (torch's flop counter: 2 per MAC)."""
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(inputs, mode="tensor")
    return int(counter.get_total_flops())


def matmul_throughput(
    precision: str, device: torch.device, size: int = 2048, repeat: int = 5
) -> float:
    """Measured dense matmul throughput in FLOP/s (best of ``repeat``).

    Args:
        precision: "fp32" or "bf16" (bfloat16 operands, as autocast would use).
        device: where to measure.
        size: the square matrix size.
        repeat: timed multiplications.
    """
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    best = float("inf")
    for _ in range(repeat + 1):
        _synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        _synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def mask_iou(masks_a: Tensor, masks_b: Tensor) -> Tensor:
    """IoU of paired binary masks: (N, H, W) x (N, H, W) -> (N,)."""
    a, b = masks_a.flatten(1), masks_b.flatten(1)
    inter = (a & b).sum(1).float()
    union = (a | b).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def detection_drift(
    reference: InstanceData, other: InstanceData, iou_thresh: float = 0.5
) -> dict[str, float]:
    """How far ``other``'s detections drift from ``reference``'s.

    Reference detections are matched greedily, best score first, to the unmatched
    detection of ``other`` with the same label and the highest box IoU (at least
    ``iou_thresh``).

    Args:
        reference: detections with ``boxes``, ``labels``, ``scores``, ``masks``.
        other: detections of the same image from another precision or backend.
        iou_thresh: minimum box IoU of a match.

    Returns:
        ``matched`` (fraction of reference detections matched), ``box_iou`` and
        ``mask_iou`` (means over matches), ``score_abs_diff`` (mean), and
        ``same_order`` (1.0 when labels agree position by position).
    """
    num = len(reference)
    if num == 0:
        return {"matched": 1.0, "box_iou": 1.0, "mask_iou": 1.0, "score_abs_diff": 0.0,
                "same_order": float(len(other) == 0)}  # fmt: skip
    ious = box_iou(reference.boxes.float(), other.boxes.float())  # (N, M)
    ious[reference.labels[:, None] != other.labels[None, :]] = -1
    taken = torch.zeros(len(other), dtype=torch.bool)
    pairs: list[tuple[int, int]] = []
    for i in range(num):
        row = ious[i].masked_fill(taken, -1)
        j = int(row.argmax()) if len(other) else -1
        if j >= 0 and row[j] >= iou_thresh:
            taken[j] = True
            pairs.append((i, j))
    if not pairs:
        return {"matched": 0.0, "box_iou": 0.0, "mask_iou": 0.0, "score_abs_diff": float("nan"),
                "same_order": 0.0}  # fmt: skip
    ref_idx = torch.tensor([p[0] for p in pairs])
    oth_idx = torch.tensor([p[1] for p in pairs])
    same = len(other) == num and bool((reference.labels == other.labels).all())
    return {
        "matched": len(pairs) / num,
        "box_iou": float(ious[ref_idx, oth_idx].mean()),
        "mask_iou": float(mask_iou(reference.masks[ref_idx], other.masks[oth_idx]).mean()),
        "score_abs_diff": float((reference.scores[ref_idx] - other.scores[oth_idx]).abs().mean()),
        "same_order": float(same),
    }
