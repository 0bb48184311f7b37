"""Fast NMS: the reference's semantics on hand-built cases, and kernel-vs-reference parity.

The kernel runs under Triton's interpreter on the CPU (tests/conftest.py sets TRITON_INTERPRET=1
when CUDA is absent). Scores are distinct random floats, so keep sets must match exactly.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from panoptic.ops import fast_nms, fast_nms_reference

# The interpreter evaluates masked-off lanes too: 0/0 on padding lanes is expected there.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


def random_boxes(num_boxes: int, generator: torch.Generator) -> torch.Tensor:
    """(N, 4) x1y1x2y2 boxes in a 100 x 100 image, crowded enough for plenty of overlaps."""
    x1y1 = torch.rand(num_boxes, 2, generator=generator) * 80
    wh = torch.rand(num_boxes, 2, generator=generator) * 40 + 1
    return torch.cat([x1y1, x1y1 + wh], dim=1)


def assert_same_detections(
    actual: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
) -> None:
    for got, want, name in zip(actual, expected, ("indices", "classes", "scores")):
        assert got.dtype == want.dtype, name
        assert torch.equal(got, want), f"{name}: {got} != {want}"


def test_reference_is_fast_nms_not_greedy_nms() -> None:
    # A overlaps B, B overlaps C, C does not touch A. Greedy NMS keeps A and C; Fast NMS lets
    # the suppressed B still suppress C, as the authors' matrix form does.
    boxes = torch.tensor(
        [[0.0, 0.0, 10.0, 10.0], [4.0, 0.0, 14.0, 10.0], [8.0, 0.0, 18.0, 10.0], [50, 50, 60, 60]]
    )
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
    indices, classes, kept_scores = fast_nms_reference(boxes, scores, 0.3, 200, 100)
    assert indices.tolist() == [0, 3]
    assert classes.tolist() == [0, 0]
    assert kept_scores.tolist() == pytest.approx([0.9, 0.6])


def test_reference_keeps_per_class_and_pools_by_score() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0]])  # IoU 9/11
    scores = torch.tensor([[0.9, 0.8], [0.1, 0.85]])
    indices, classes, kept_scores = fast_nms_reference(boxes, scores, 0.5, 200, 100)
    # Class 0 drops box 1; class 1 keeps box 1 and drops box 0 (lower score, same overlap).
    assert indices.tolist() == [0, 1]
    assert classes.tolist() == [0, 1]
    assert kept_scores.tolist() == pytest.approx([0.9, 0.85])
    cc_indices, cc_classes, _ = fast_nms_reference(boxes, scores, 0.5, 200, 100, cross_class=True)
    assert cc_indices.tolist() == [0]
    assert cc_classes.tolist() == [0]


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_iou_exactly_at_threshold_is_kept(backend: str) -> None:
    # inter 2, union 4: IoU is exactly 0.5 in float32, and the rule is "keep when <= thresh".
    boxes = torch.tensor([[0.0, 0.0, 3.0, 1.0], [1.0, 0.0, 4.0, 1.0]])
    scores = torch.tensor([[0.9, 0.8]])
    indices, _, _ = fast_nms(boxes, scores, 0.5, 200, 100, backend=backend)
    assert indices.tolist() == [0, 1]


@pytest.mark.parametrize("eps", [1e-4, -1e-4, 1e-6, -1e-6])
@pytest.mark.parametrize("iou_thresh", [0.5, 0.3, 0.7])
def test_boxes_at_threshold_plus_minus_eps(iou_thresh: float, eps: float) -> None:
    # Pairs of 10 x 10 boxes shifted along x so that their IoU is iou_thresh + eps.
    target = iou_thresh + eps
    shift = 10.0 - 20.0 * target / (1.0 + target)
    offsets = torch.arange(6, dtype=torch.float32) * 40.0
    first = torch.stack([offsets, offsets, offsets + 10, offsets + 10], dim=1)
    second = first + torch.tensor([shift, 0.0, shift, 0.0])
    boxes = torch.cat([first, second])  # (12, 4)
    scores = torch.cat([torch.linspace(0.9, 0.8, 6), torch.linspace(0.7, 0.6, 6)])[None]
    reference = fast_nms_reference(boxes, scores, iou_thresh, 200, 100)
    num_expected = 6 if eps > 0 else 12
    assert reference[0].numel() == num_expected
    triton_result = fast_nms(boxes, scores, iou_thresh, 200, 100, backend="triton")
    assert_same_detections(triton_result, reference)


@pytest.mark.parametrize("cross_class", [False, True])
@pytest.mark.parametrize(
    ("num_boxes", "num_classes", "top_k", "max_num_detections"),
    [(1, 1, 200, 100), (1, 4, 200, 100), (37, 5, 20, 100), (130, 3, 200, 100), (77, 6, 50, 17)],
)
def test_triton_matches_reference(
    num_boxes: int, num_classes: int, top_k: int, max_num_detections: int, cross_class: bool
) -> None:
    generator = torch.Generator().manual_seed(num_boxes * 31 + num_classes)
    boxes = random_boxes(num_boxes, generator)
    scores = torch.rand(num_classes, num_boxes, generator=generator)
    reference = fast_nms_reference(
        boxes, scores, 0.5, top_k, max_num_detections, cross_class=cross_class
    )
    assert reference[0].numel() > 0
    assert reference[0].numel() <= max_num_detections
    assert torch.all(reference[2][:-1] >= reference[2][1:])
    result = fast_nms(
        boxes, scores, 0.5, top_k, max_num_detections, cross_class=cross_class, backend="triton"
    )
    assert_same_detections(result, reference)


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize(("num_boxes", "num_classes"), [(0, 3), (5, 0), (0, 0)])
def test_empty_input(backend: str, num_boxes: int, num_classes: int) -> None:
    boxes = torch.zeros(num_boxes, 4)
    scores = torch.zeros(num_classes, num_boxes)
    indices, classes, kept_scores = fast_nms(boxes, scores, 0.5, 200, 100, backend=backend)
    assert indices.shape == classes.shape == kept_scores.shape == (0,)
    assert indices.dtype == classes.dtype == torch.int64


def test_class_without_scores_matches_reference() -> None:
    # Class 1 scores nothing anywhere: the authors apply no threshold inside Fast NMS, so its
    # candidates take part exactly like any other class's.
    generator = torch.Generator().manual_seed(3)
    boxes = random_boxes(23, generator)
    scores = torch.rand(3, 23, generator=generator)
    scores[1] = 0.0
    reference = fast_nms_reference(boxes, scores, 0.5, 200, 100)
    assert_same_detections(fast_nms(boxes, scores, 0.5, 200, 100, backend="triton"), reference)


def test_degenerate_and_duplicate_boxes_match_reference() -> None:
    # Empty boxes give IoU 0/0 = NaN against each other; torch.max propagates NaN and
    # "NaN <= thresh" is False, so the reference suppresses them. The kernel must agree.
    generator = torch.Generator().manual_seed(5)
    boxes = random_boxes(19, generator)
    boxes[3] = torch.tensor([5.0, 5.0, 5.0, 5.0])
    boxes[7] = torch.tensor([5.0, 5.0, 5.0, 5.0])
    boxes[11] = torch.tensor([20.0, 20.0, 20.0, 30.0])
    boxes[12] = boxes[4]
    scores = torch.rand(2, 19, generator=generator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = fast_nms_reference(boxes, scores, 0.5, 200, 100)
    assert_same_detections(fast_nms(boxes, scores, 0.5, 200, 100, backend="triton"), reference)


def test_non_contiguous_inputs() -> None:
    generator = torch.Generator().manual_seed(7)
    wide = torch.cat([random_boxes(41, generator), torch.zeros(41, 4)], dim=1)[:, :4]
    scores_t = torch.rand(41, 4, generator=generator).t()  # (C, N) view, not contiguous
    assert not wide.is_contiguous() and not scores_t.is_contiguous()
    reference = fast_nms_reference(wide.contiguous(), scores_t.contiguous(), 0.5, 30, 100)
    for backend in ("reference", "triton"):
        assert_same_detections(fast_nms(wide, scores_t, 0.5, 30, 100, backend=backend), reference)


def test_auto_backend_on_cpu_is_the_reference() -> None:
    generator = torch.Generator().manual_seed(11)
    boxes = random_boxes(15, generator)
    scores = torch.rand(2, 15, generator=generator)
    assert_same_detections(
        fast_nms(boxes, scores, 0.5, 200, 100), fast_nms_reference(boxes, scores, 0.5, 200, 100)
    )


def test_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    scores = torch.tensor([[0.5]])
    with pytest.raises(ValueError, match="backend must be one of"):
        fast_nms(boxes, scores, 0.5, 200, 100, backend="cuda")
    with pytest.raises(ValueError, match=r"scores must be \(C, N\)"):
        fast_nms(boxes, torch.zeros(2, 3), 0.5, 200, 100)
    with pytest.raises(ValueError, match=r"boxes must be \(N, 4\)"):
        fast_nms(torch.zeros(3), scores, 0.5, 200, 100)
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        fast_nms(boxes, scores, 0.5, 0, 100)
    with pytest.raises(TypeError, match="float32"):
        fast_nms(boxes.double(), scores, 0.5, 200, 100, backend="triton")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        fast_nms(boxes, scores, 0.5, 200, 100, backend="triton")
