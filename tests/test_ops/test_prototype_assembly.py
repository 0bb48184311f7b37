"""Mask assembly: the reference's crop on hand-built cases, kernel-vs-reference parity (values,
resize, threshold, gradients) on awkward shapes under Triton's interpreter."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from panoptic.ops import assemble_masks, assemble_masks_reference, assemble_masks_train
from panoptic.ops.prototype_assembly import (
    _TILING_CUDA,
    _TILING_INTERPRETER,
    _assemble_masks_triton,
)

ATOL_FP32 = 1e-5
TILINGS = {"cuda_tiling": _TILING_CUDA, "interpreter_tiling": _TILING_INTERPRETER}


def awkward_boxes(num_masks: int, generator: torch.Generator) -> torch.Tensor:
    """(N, 4) relative boxes: random ones, then the whole image, border-touching, reversed
    corners, zero width, zero area, partly outside the image and entirely outside it."""
    special = torch.tensor(
        [
            [0.0, 0.0, 1.0, 1.0],
            [0.0, 0.3, 0.4, 1.0],
            [0.9, 0.8, 0.2, 0.1],
            [0.5, 0.2, 0.5, 0.7],
            [0.3, 0.3, 0.3, 0.3],
            [-0.2, 0.6, 1.3, 1.4],
            [1.2, -0.5, 1.5, -0.1],
        ]
    )
    x1y1 = torch.rand(num_masks, 2, generator=generator) * 0.7
    wh = torch.rand(num_masks, 2, generator=generator) * 0.5
    boxes = torch.cat([x1y1, x1y1 + wh], dim=1)
    num_special = min(num_masks, len(special))
    boxes[-num_special:] = special[:num_special] if num_special else boxes[-num_special:]
    return boxes


def random_inputs(
    height: int, width: int, num_protos: int, num_masks: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    protos = torch.relu(torch.randn(height, width, num_protos, generator=generator))
    coeffs = torch.tanh(torch.randn(num_masks, num_protos, generator=generator))
    return protos, coeffs, awkward_boxes(num_masks, generator)


SHAPES = [(13, 17, 5, 9), (1, 1, 1, 1), (7, 30, 32, 3), (20, 9, 3, 2), (11, 11, 4, 0)]


def test_reference_crop_pads_one_prototype_pixel() -> None:
    # Constant logit 0 (probability 0.5) on an 8 x 8 grid; the box spans pixels 2..4 on x and
    # 2..6 on y, so with the 1-pixel padding columns 1..4 and rows 1..6 are inside.
    protos = torch.zeros(8, 8, 1)
    coeffs = torch.ones(1, 1)
    boxes = torch.tensor([[0.25, 0.25, 0.5, 0.75]])
    probs = assemble_masks_reference(protos, coeffs, boxes)
    expected = torch.zeros(1, 8, 8)
    expected[0, 1:7, 1:5] = 0.5
    assert torch.equal(probs, expected)
    # Fractional box edges: x from 0.3 * 8 = 2.4 to 0.55 * 8 = 4.4, padded to 1.4 .. 5.4, so
    # columns 2..5; the float bounds are not rounded.
    probs = assemble_masks_reference(protos, coeffs, torch.tensor([[0.3, 0.0, 0.55, 1.0]]))
    assert probs[0, 0].nonzero().flatten().tolist() == [2, 3, 4, 5]


def test_reference_resizes_then_thresholds() -> None:
    protos, coeffs, boxes = random_inputs(10, 12, 4, 3, seed=0)
    probs = assemble_masks_reference(protos, coeffs, boxes)
    resized = assemble_masks_reference(protos, coeffs, boxes, out_size=(25, 31))
    assert torch.equal(
        resized, F.interpolate(probs[None], (25, 31), mode="bilinear", align_corners=False)[0]
    )
    masks = assemble_masks_reference(protos, coeffs, boxes, out_size=(25, 31), threshold=0.5)
    assert masks.dtype == torch.bool
    assert torch.equal(masks, resized > 0.5)


@pytest.mark.parametrize("tiling", TILINGS.values(), ids=TILINGS.keys())
@pytest.mark.parametrize(("height", "width", "num_protos", "num_masks"), SHAPES)
def test_probs_match_reference(
    height: int, width: int, num_protos: int, num_masks: int, tiling: object
) -> None:
    protos, coeffs, boxes = random_inputs(height, width, num_protos, num_masks, seed=height)
    expected = assemble_masks_reference(protos, coeffs, boxes)
    result = _assemble_masks_triton(protos, coeffs, boxes, None, None, tiling)
    assert result.shape == (num_masks, height, width)
    assert result.dtype == torch.float32
    torch.testing.assert_close(result, expected, atol=ATOL_FP32, rtol=0)


OUT_SIZES = [(29, 41), (5, 7), (50, 3), (13, 17), (1, 1)]


@pytest.mark.parametrize("tiling", TILINGS.values(), ids=TILINGS.keys())
@pytest.mark.parametrize("out_size", OUT_SIZES)
def test_resized_probs_match_reference(out_size: tuple[int, int], tiling: object) -> None:
    protos, coeffs, boxes = random_inputs(13, 17, 6, 8, seed=1)
    expected = assemble_masks_reference(protos, coeffs, boxes, out_size=out_size)
    result = _assemble_masks_triton(protos, coeffs, boxes, out_size, None, tiling)
    assert result.shape == (8, *out_size)
    torch.testing.assert_close(result, expected, atol=ATOL_FP32, rtol=0)


@pytest.mark.parametrize("out_size", [None, (33, 26)])
def test_thresholded_masks_match_reference(out_size: tuple[int, int] | None) -> None:
    protos, coeffs, boxes = random_inputs(15, 12, 5, 7, seed=2)
    threshold = 0.5
    probs = assemble_masks_reference(protos, coeffs, boxes, out_size=out_size)
    expected = assemble_masks_reference(protos, coeffs, boxes, out_size, threshold)
    result = assemble_masks(protos, coeffs, boxes, out_size, threshold, backend="triton")
    assert result.dtype == torch.bool
    assert result.shape == expected.shape
    assert expected.any() and not expected.all()
    differ = result != expected
    assert torch.all((probs[differ] - threshold).abs() <= ATOL_FP32)


def test_upsampling_from_many_prototype_pixels_per_tile() -> None:
    # A large upsampling factor along one axis and a downsampling one along the other: the
    # kernel's window and tile sizes differ per axis.
    protos, coeffs, boxes = random_inputs(9, 40, 8, 3, seed=3)
    expected = assemble_masks_reference(protos, coeffs, boxes, out_size=(130, 11))
    for tiling in TILINGS.values():
        result = _assemble_masks_triton(protos, coeffs, boxes, (130, 11), None, tiling)
        torch.testing.assert_close(result, expected, atol=ATOL_FP32, rtol=0)


def test_non_contiguous_inputs() -> None:
    protos, coeffs, boxes = random_inputs(12, 14, 6, 5, seed=4)
    protos_view = protos.permute(2, 0, 1).contiguous().permute(1, 2, 0)  # (H, W, K) view
    coeffs_strided = torch.stack([coeffs, coeffs], dim=2)[:, :, 0]  # (N, K) with stride 2
    boxes_strided = torch.stack([boxes, boxes], dim=2)[:, :, 1]
    assert not protos_view.is_contiguous() and not coeffs_strided.is_contiguous()
    assert not boxes_strided.is_contiguous()
    expected = assemble_masks_reference(protos, coeffs, boxes, out_size=(20, 23))
    result = assemble_masks(
        protos_view, coeffs_strided, boxes_strided, out_size=(20, 23), backend="triton"
    )
    torch.testing.assert_close(result, expected, atol=ATOL_FP32, rtol=0)


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize(
    ("out_size", "threshold", "dtype"),
    [(None, None, torch.float32), ((9, 4), None, torch.float32), ((9, 4), 0.5, torch.bool)],
)
def test_no_masks(
    backend: str, out_size: tuple[int, int] | None, threshold: float | None, dtype: torch.dtype
) -> None:
    protos, coeffs, boxes = random_inputs(6, 5, 3, 0, seed=5)
    result = assemble_masks(protos, coeffs, boxes, out_size, threshold, backend=backend)
    assert result.dtype == dtype
    assert result.shape == (0, *(out_size or (6, 5)))


@pytest.mark.parametrize(("height", "width", "num_protos", "num_masks"), SHAPES)
def test_train_gradients_match_reference(
    height: int, width: int, num_protos: int, num_masks: int
) -> None:
    protos, coeffs, boxes = random_inputs(height, width, num_protos, num_masks, seed=6)
    weights = torch.randn(num_masks, height, width)

    def grads(backend: str) -> tuple[torch.Tensor, ...]:
        protos_leaf = protos.clone().requires_grad_(True)
        coeffs_leaf = coeffs.clone().requires_grad_(True)
        probs = assemble_masks_train(protos_leaf, coeffs_leaf, boxes, backend=backend)
        (probs * weights).sum().backward()
        return probs.detach(), protos_leaf.grad, coeffs_leaf.grad

    expected = grads("reference")
    result = grads("triton")
    torch.testing.assert_close(result[0], expected[0], atol=ATOL_FP32, rtol=0)
    for got, want in zip(result[1:], expected[1:]):
        assert got is not None and want is not None
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    if num_masks > 0:
        assert expected[1].abs().sum() + expected[2].abs().sum() > 0


def test_train_gradient_of_one_input_only() -> None:
    protos, coeffs, boxes = random_inputs(8, 9, 4, 3, seed=7)
    coeffs_leaf = coeffs.clone().requires_grad_(True)
    assemble_masks_train(protos, coeffs_leaf, boxes, backend="triton").sum().backward()
    reference_leaf = coeffs.clone().requires_grad_(True)
    assemble_masks_train(protos, reference_leaf, boxes, backend="reference").sum().backward()
    torch.testing.assert_close(coeffs_leaf.grad, reference_leaf.grad, atol=1e-4, rtol=0)


@pytest.mark.parametrize("out_size", [None, (19, 14)])
def test_public_op_keeps_gradients_with_the_kernel(out_size: tuple[int, int] | None) -> None:
    protos, coeffs, boxes = random_inputs(10, 8, 4, 3, seed=10)
    weights = torch.randn(3, *(out_size or (10, 8)))

    def grads(backend: str) -> tuple[torch.Tensor, torch.Tensor]:
        protos_leaf = protos.clone().requires_grad_(True)
        coeffs_leaf = coeffs.clone().requires_grad_(True)
        probs = assemble_masks(protos_leaf, coeffs_leaf, boxes, out_size, backend=backend)
        (probs * weights).sum().backward()
        return protos_leaf.grad, coeffs_leaf.grad

    for got, want in zip(grads("triton"), grads("reference")):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


def test_auto_backend_on_cpu_is_the_reference() -> None:
    protos, coeffs, boxes = random_inputs(9, 8, 3, 4, seed=8)
    assert torch.equal(
        assemble_masks(protos, coeffs, boxes, (17, 15), 0.5),
        assemble_masks_reference(protos, coeffs, boxes, (17, 15), 0.5),
    )


def test_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    protos, coeffs, boxes = random_inputs(4, 4, 2, 1, seed=9)
    with pytest.raises(ValueError, match="backend must be one of"):
        assemble_masks(protos, coeffs, boxes, backend="gpu")
    with pytest.raises(ValueError, match=r"protos must be \(H, W, K\)"):
        assemble_masks(protos[0], coeffs, boxes)
    with pytest.raises(ValueError, match=r"coeffs must be \(N, K\)"):
        assemble_masks(protos, coeffs[:, :1], boxes)
    with pytest.raises(ValueError, match=r"boxes must be \(N, 4\)"):
        assemble_masks(protos, coeffs, boxes[:, :2])
    with pytest.raises(TypeError, match="float32"):
        assemble_masks(protos.double(), coeffs.double(), boxes.double(), backend="triton")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        assemble_masks(protos, coeffs, boxes, backend="triton")
