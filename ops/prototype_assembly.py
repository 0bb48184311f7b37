"""YOLACT mask assembly: a PyTorch reference and a fused Triton kernel.

A detection's mask is ``sigmoid(protos @ coeffs)``, zeroed outside its box (padded by one
prototype pixel), optionally resized bilinearly to the image and thresholded. The reference
follows the authors' ``postprocess`` / ``crop`` / ``sanitize_coordinates``
(dbolya/yolact ``layers/output_utils.py``, ``layers/box_utils.py``) operation by operation. The
kernel fuses the K-long dot product, the sigmoid, the crop and, when asked, the bilinear resize
and the threshold: one program per mask and output tile computes the small window of cropped
prototype-resolution probabilities its tile needs and interpolates from it, so only the final
masks are written.

Shape legend: N masks (detections), K prototypes, H/W prototype height/width, h/w output
height/width, T an output tile, S the prototype window a tile reads.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
import triton
import triton.language as tl

__all__ = ["assemble_masks", "assemble_masks_reference", "assemble_masks_train"]

_BACKENDS = ("auto", "reference", "triton")
_CROP_PADDING = 1


def _sanitize_coordinates(
    coord_a_rel: torch.Tensor, coord_b_rel: torch.Tensor, size: int, padding: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ordered, padded and clamped crop bounds in (float) pixels, as the authors compute them.

    Args:
        coord_a_rel: (N,) one relative coordinate of each box along an axis.
        coord_b_rel: (N,) the other one.
        size: length of the axis in pixels.
        padding: pixels added on both sides.

    Returns:
        ``low`` and ``high`` (N,): a pixel index ``i`` is inside when ``low <= i < high``.
    """
    coord_a = coord_a_rel * size
    coord_b = coord_b_rel * size
    low = torch.clamp(torch.min(coord_a, coord_b) - padding, min=0)
    high = torch.clamp(torch.max(coord_a, coord_b) + padding, max=size)
    return low, high


def _crop(masks: torch.Tensor, boxes_rel: torch.Tensor) -> torch.Tensor:
    """Zeroes every pixel outside its (padded) box.

    Args:
        masks: (H, W, N) per-pixel values.
        boxes_rel: (N, 4) x1y1x2y2 boxes relative to the image (0..1).

    Returns:
        (H, W, N) cropped values.
    """
    H, W = masks.shape[:2]
    x1, x2 = _sanitize_coordinates(boxes_rel[:, 0], boxes_rel[:, 2], W, _CROP_PADDING)  # (N,)
    y1, y2 = _sanitize_coordinates(boxes_rel[:, 1], boxes_rel[:, 3], H, _CROP_PADDING)  # (N,)
    cols = torch.arange(W, device=masks.device, dtype=x1.dtype).view(1, -1, 1)  # (1, W, 1)
    rows = torch.arange(H, device=masks.device, dtype=x1.dtype).view(-1, 1, 1)  # (H, 1, 1)
    inside = (
        (cols >= x1.view(1, 1, -1))
        & (cols < x2.view(1, 1, -1))
        & (rows >= y1.view(1, 1, -1))
        & (rows < y2.view(1, 1, -1))
    )  # (H, W, N)
    return masks * inside.float()


def _check_inputs(protos: torch.Tensor, coeffs: torch.Tensor, boxes: torch.Tensor) -> None:
    if protos.dim() != 3:
        raise ValueError(f"assemble_masks: protos must be (H, W, K), got {tuple(protos.shape)}")
    if coeffs.dim() != 2 or coeffs.shape[1] != protos.shape[2]:
        raise ValueError(
            f"assemble_masks: coeffs must be (N, K) with K = {protos.shape[2]}, "
            f"got {tuple(coeffs.shape)}"
        )
    if boxes.shape != (coeffs.shape[0], 4):
        raise ValueError(
            f"assemble_masks: boxes must be (N, 4) with N = {coeffs.shape[0]}, "
            f"got {tuple(boxes.shape)}"
        )


def _empty_masks(
    protos: torch.Tensor, out_size: tuple[int, int] | None, threshold: float | None
) -> torch.Tensor:
    height, width = out_size if out_size is not None else protos.shape[:2]
    dtype = torch.bool if threshold is not None else protos.dtype
    return torch.zeros((0, height, width), dtype=dtype, device=protos.device)


def assemble_masks_reference(
    protos: torch.Tensor,
    coeffs: torch.Tensor,
    boxes: torch.Tensor,
    out_size: tuple[int, int] | None = None,
    threshold: float | None = None,
) -> torch.Tensor:
    """Mask assembly in plain PyTorch, operation for operation as the YOLACT authors do it.

    Differentiable with respect to ``protos`` and ``coeffs`` when no threshold is given.

    Args:
        protos: (H, W, K) prototypes, channels last.
        coeffs: (N, K) mask coefficients.
        boxes: (N, 4) x1y1x2y2 boxes relative to the image (0..1).
        out_size: ``(h, w)`` to resize the masks to (bilinear, ``align_corners=False``).
        threshold: when given, return ``probs > threshold`` as bool masks.

    Returns:
        (N, H, W) probabilities, (N, h, w) with ``out_size``, bool with ``threshold``.
    """
    _check_inputs(protos, coeffs, boxes)
    if coeffs.shape[0] == 0 and out_size is not None:
        # F.interpolate rejects empty inputs; without a resize the graph stays connected.
        return _empty_masks(protos, out_size, threshold)
    probs = torch.sigmoid(protos @ coeffs.t())  # (H, W, N)
    probs = _crop(probs, boxes)  # (H, W, N)
    probs = probs.permute(2, 0, 1).contiguous()  # (N, H, W)
    if out_size is not None:
        probs = F.interpolate(
            probs[None], size=tuple(out_size), mode="bilinear", align_corners=False
        )[0]  # (N, h, w)
    if threshold is not None:
        return probs > threshold
    return probs


# Sizes equal to 1 would otherwise be specialised into compile-time constants, which have no
# ``.to()``; they are ordinary runtime integers here.
@triton.jit(do_not_specialize=["proto_h", "proto_w", "num_protos", "out_h", "out_w"])
def _assemble_masks_kernel(
    protos_ptr,
    coeffs_ptr,
    boxes_ptr,
    out_ptr,
    proto_h,
    proto_w,
    num_protos,
    out_h,
    out_w,
    scale_h,
    scale_w,
    threshold,
    UPSAMPLE: tl.constexpr,
    THRESHOLD: tl.constexpr,
    TILE_H: tl.constexpr,
    TILE_W: tl.constexpr,
    WIN_H: tl.constexpr,
    WIN_W: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # One program: one mask (axis 0) and one output tile (axis 1).
    mask_id = tl.program_id(0)
    num_tiles_w = tl.cdiv(out_w, TILE_W)
    tile_y = tl.program_id(1) // num_tiles_w
    tile_x = tl.program_id(1) % num_tiles_w
    out_rows = tile_y * TILE_H + tl.arange(0, TILE_H)  # (T_h,)
    out_cols = tile_x * TILE_W + tl.arange(0, TILE_W)  # (T_w,)

    if UPSAMPLE:
        # Source coordinates as F.interpolate(align_corners=False) computes them.
        src_y = tl.maximum((out_rows.to(tl.float32) + 0.5) * scale_h - 0.5, 0.0)
        src_x = tl.maximum((out_cols.to(tl.float32) + 0.5) * scale_w - 0.5, 0.0)
        y0 = src_y.to(tl.int32)
        x0 = src_x.to(tl.int32)
        y1 = y0 + (y0 < proto_h - 1).to(tl.int32)
        x1 = x0 + (x0 < proto_w - 1).to(tl.int32)
        wy1 = src_y - y0.to(tl.float32)
        wx1 = src_x - x0.to(tl.float32)
        wy0 = 1.0 - wy1
        wx0 = 1.0 - wx1
        win_top = tl.min(y0, axis=0)
        win_left = tl.min(x0, axis=0)
        win_rows = win_top + tl.arange(0, WIN_H)  # (S_h,)
        win_cols = win_left + tl.arange(0, WIN_W)  # (S_w,)
    else:
        win_rows = out_rows
        win_cols = out_cols

    # Crop bounds of this mask, as the reference's _sanitize_coordinates.
    box_x1 = tl.load(boxes_ptr + mask_id * 4 + 0) * proto_w
    box_y1 = tl.load(boxes_ptr + mask_id * 4 + 1) * proto_h
    box_x2 = tl.load(boxes_ptr + mask_id * 4 + 2) * proto_w
    box_y2 = tl.load(boxes_ptr + mask_id * 4 + 3) * proto_h
    crop_x1 = tl.maximum(tl.minimum(box_x1, box_x2) - 1.0, 0.0)
    crop_x2 = tl.minimum(tl.maximum(box_x1, box_x2) + 1.0, proto_w.to(tl.float32))
    crop_y1 = tl.maximum(tl.minimum(box_y1, box_y2) - 1.0, 0.0)
    crop_y2 = tl.minimum(tl.maximum(box_y1, box_y2) + 1.0, proto_h.to(tl.float32))

    # Cropped probabilities over the prototype window: a K-long dot product per pixel.
    in_window = (win_rows[:, None] < proto_h) & (win_cols[None, :] < proto_w)  # (S_h, S_w)
    pixel_offs = (win_rows[:, None] * proto_w + win_cols[None, :]) * num_protos  # (S_h, S_w)
    logits = tl.zeros((WIN_H, WIN_W), dtype=tl.float32)
    for k_start in range(0, num_protos, BLOCK_K):
        offs_k = k_start + tl.arange(0, BLOCK_K)  # (K_b,)
        valid_k = offs_k < num_protos
        coeff = tl.load(coeffs_ptr + mask_id * num_protos + offs_k, mask=valid_k, other=0.0)
        proto = tl.load(
            protos_ptr + pixel_offs[:, :, None] + offs_k[None, None, :],
            mask=in_window[:, :, None] & valid_k[None, None, :],
            other=0.0,
        )  # (S_h, S_w, K_b)
        logits += tl.sum(proto * coeff[None, None, :], axis=2)
    probs = 1.0 / (1.0 + tl.exp(-logits))
    inside = (
        (win_cols[None, :].to(tl.float32) >= crop_x1)
        & (win_cols[None, :].to(tl.float32) < crop_x2)
        & (win_rows[:, None].to(tl.float32) >= crop_y1)
        & (win_rows[:, None].to(tl.float32) < crop_y2)
    )
    probs = tl.where(inside, probs, 0.0)  # (S_h, S_w)

    if UPSAMPLE:
        # Bilinear interpolation by gathering from the window: along x, then along y, each as
        # w0 * v0 + w1 * v1 like F.interpolate. Clamped indices only matter for lanes past the
        # output border, which are never stored.
        col_0 = tl.broadcast_to(tl.minimum(x0 - win_left, WIN_W - 1)[None, :], (WIN_H, TILE_W))
        col_1 = tl.broadcast_to(tl.minimum(x1 - win_left, WIN_W - 1)[None, :], (WIN_H, TILE_W))
        along_x = wx0[None, :] * tl.gather(probs, col_0, axis=1) + wx1[None, :] * tl.gather(
            probs, col_1, axis=1
        )  # (S_h, T_w)
        row_0 = tl.broadcast_to(tl.minimum(y0 - win_top, WIN_H - 1)[:, None], (TILE_H, TILE_W))
        row_1 = tl.broadcast_to(tl.minimum(y1 - win_top, WIN_H - 1)[:, None], (TILE_H, TILE_W))
        values = wy0[:, None] * tl.gather(along_x, row_0, axis=0) + wy1[:, None] * tl.gather(
            along_x, row_1, axis=0
        )  # (T_h, T_w)
    else:
        values = probs

    out_offs = (
        mask_id.to(tl.int64) * out_h * out_w + out_rows[:, None] * out_w + out_cols[None, :]
    )  # (T_h, T_w)
    in_out = (out_rows[:, None] < out_h) & (out_cols[None, :] < out_w)
    if THRESHOLD:
        tl.store(out_ptr + out_offs, (values > threshold).to(tl.int8), mask=in_out)
    else:
        tl.store(out_ptr + out_offs, values, mask=in_out)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


class _Tiling(NamedTuple):
    """Per-program work sizes of the assembly kernel (powers of two)."""

    max_window: int  # the largest prototype window, per axis, one program reads
    max_tile: int  # the largest output tile, per axis
    block_k: int  # prototypes per step of the dot product


# On a GPU a program's window (S_h, S_w, K_b) must stay in registers. Under the interpreter every
# program costs Python overhead, so it runs fewer, larger programs with the same arithmetic.
_TILING_CUDA = _Tiling(max_window=16, max_tile=64, block_k=8)
_TILING_INTERPRETER = _Tiling(max_window=64, max_tile=128, block_k=32)


def _tile_and_window(
    in_size: int, out_size: int, upsample: bool, tiling: _Tiling
) -> tuple[int, int, np.float32]:
    """Output tile length, prototype window length and source/output scale along one axis."""
    max_tile = min(tiling.max_tile, max(16, triton.next_power_of_2(out_size)))
    if not upsample:
        tile = min(max_tile, tiling.max_window)
        return tile, tile, np.float32(1.0)
    # F.interpolate's scale for an explicit output size: input / output in float32.
    scale = np.float32(in_size) / np.float32(out_size)

    def window_for(tile: int) -> int:
        # T outputs read at most ceil((T - 1) * scale) + 2 source pixels; one spare for rounding.
        return int(np.ceil((tile - 1) * float(scale))) + 3

    tile = max_tile
    while tile > 1 and window_for(tile) > tiling.max_window:
        tile //= 2
    return tile, triton.next_power_of_2(window_for(tile)), scale


def _assemble_masks_triton(
    protos: torch.Tensor,
    coeffs: torch.Tensor,
    boxes: torch.Tensor,
    out_size: tuple[int, int] | None,
    threshold: float | None,
    tiling: _Tiling | None = None,
) -> torch.Tensor:
    """Launches the fused assembly kernel (float32 inputs on one device).

    ``tiling`` defaults to the GPU sizes on CUDA and to larger ones under the interpreter.
    """
    if protos.device.type != "cuda" and not _interpreting():
        raise RuntimeError(
            "assemble_masks(backend='triton') needs CUDA tensors, or TRITON_INTERPRET=1 set "
            "before panoptic.ops is imported to run the kernel in Triton's CPU interpreter; "
            f"got tensors on {protos.device}"
        )
    for name, tensor in (("protos", protos), ("coeffs", coeffs), ("boxes", boxes)):
        if tensor.dtype != torch.float32:
            raise TypeError(f"assemble_masks(backend='triton'): {name} must be float32")
        if tensor.device != protos.device:
            raise ValueError("assemble_masks(backend='triton'): inputs on different devices")
    protos, coeffs, boxes = protos.contiguous(), coeffs.contiguous(), boxes.contiguous()
    H, W, K = protos.shape
    N = coeffs.shape[0]
    upsample = out_size is not None
    out_h, out_w = (int(out_size[0]), int(out_size[1])) if out_size is not None else (H, W)
    if tiling is None:
        tiling = _TILING_CUDA if protos.is_cuda else _TILING_INTERPRETER
    tile_h, win_h, scale_h = _tile_and_window(H, out_h, upsample, tiling)
    tile_w, win_w, scale_w = _tile_and_window(W, out_w, upsample, tiling)
    out_dtype = torch.uint8 if threshold is not None else torch.float32
    out = torch.empty((N, out_h, out_w), dtype=out_dtype, device=protos.device)
    if out.numel() == 0:
        return out.view(torch.bool) if threshold is not None else out
    grid = (N, triton.cdiv(out_h, tile_h) * triton.cdiv(out_w, tile_w))
    _assemble_masks_kernel[grid](
        protos,
        coeffs,
        boxes,
        out,
        H,
        W,
        K,
        out_h,
        out_w,
        float(scale_h),
        float(scale_w),
        float(threshold) if threshold is not None else 0.0,
        UPSAMPLE=upsample,
        THRESHOLD=threshold is not None,
        TILE_H=tile_h,
        TILE_W=tile_w,
        WIN_H=win_h,
        WIN_W=win_w,
        BLOCK_K=min(tiling.block_k, triton.next_power_of_2(max(K, 1))),
    )
    return out.view(torch.bool) if threshold is not None else out


def _use_triton(backend: str, *tensors: torch.Tensor) -> bool:
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if backend == "auto":
        return all(t.is_cuda and t.dtype == torch.float32 for t in tensors)
    return backend == "triton"


class _AssembleMasksFunction(torch.autograd.Function):
    """Kernel forward, PyTorch backward (two small matmuls)."""

    @staticmethod
    def forward(
        ctx: Any,
        protos: torch.Tensor,
        coeffs: torch.Tensor,
        boxes: torch.Tensor,
    ) -> torch.Tensor:
        probs = _assemble_masks_triton(protos, coeffs, boxes, None, None)  # (N, H, W)
        ctx.save_for_backward(protos, coeffs, probs)
        return probs

    @staticmethod
    def backward(
        ctx: Any, grad_probs: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        protos, coeffs, probs = ctx.saved_tensors
        # Outside the crop probs are 0, so p * (1 - p) also applies the crop to the gradient.
        grad_logits = grad_probs * probs * (1.0 - probs)  # (N, H, W)
        grad_protos = grad_coeffs = None
        if ctx.needs_input_grad[0]:
            grad_protos = torch.einsum("nhw,nk->hwk", grad_logits, coeffs)  # (H, W, K)
        if ctx.needs_input_grad[1]:
            grad_coeffs = torch.einsum("nhw,hwk->nk", grad_logits, protos)  # (N, K)
        return grad_protos, grad_coeffs, None


def assemble_masks(
    protos: torch.Tensor,
    coeffs: torch.Tensor,
    boxes: torch.Tensor,
    out_size: tuple[int, int] | None = None,
    threshold: float | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """YOLACT mask assembly: sigmoid(P C^T), box crop, optional resize and threshold.

    When gradients are required (and no threshold is given), the kernel runs at prototype
    resolution with the backward of :func:`assemble_masks_train` and a requested resize is left
    to ``F.interpolate``; otherwise the whole chain is one kernel.

    Args:
        protos: (H, W, K) prototypes, channels last.
        coeffs: (N, K) mask coefficients.
        boxes: (N, 4) x1y1x2y2 boxes relative to the image (0..1); each mask is cropped to its
            box padded by one prototype pixel.
        out_size: ``(h, w)`` to resize the masks to (bilinear, ``align_corners=False``).
        threshold: when given, return ``probs > threshold`` as bool masks.
        backend: ``"auto"`` (Triton for float32 CUDA tensors, the reference otherwise),
            ``"reference"`` or ``"triton"`` (on the CPU only under ``TRITON_INTERPRET=1``).

    Returns:
        (N, H, W) probabilities, (N, h, w) with ``out_size``, bool with ``threshold``.
    """
    _check_inputs(protos, coeffs, boxes)
    needs_grad = torch.is_grad_enabled() and (protos.requires_grad or coeffs.requires_grad)
    if not _use_triton(backend, protos, coeffs, boxes) or (needs_grad and coeffs.shape[0] == 0):
        return assemble_masks_reference(protos, coeffs, boxes, out_size, threshold)
    if not needs_grad or threshold is not None:
        return _assemble_masks_triton(protos, coeffs, boxes, out_size, threshold)
    probs = _AssembleMasksFunction.apply(protos, coeffs, boxes.detach())  # (N, H, W)
    if out_size is None:
        return probs
    resized = F.interpolate(probs[None], size=tuple(out_size), mode="bilinear", align_corners=False)
    return resized[0]  # (N, h, w)


def assemble_masks_train(
    protos: torch.Tensor, coeffs: torch.Tensor, boxes: torch.Tensor, backend: str = "auto"
) -> torch.Tensor:
    """Differentiable mask assembly for the training loss: cropped sigmoid(P C^T).

    Args:
        protos: (H, W, K) prototypes, channels last.
        coeffs: (N, K) mask coefficients.
        boxes: (N, 4) x1y1x2y2 crop boxes relative to the image (0..1), not differentiated.
        backend: ``"auto"``, ``"reference"`` or ``"triton"``, as in :func:`assemble_masks`.

    Returns:
        (N, H, W) cropped probabilities with gradients to ``protos`` and ``coeffs``.
    """
    _check_inputs(protos, coeffs, boxes)
    if not _use_triton(backend, protos, coeffs, boxes) or coeffs.shape[0] == 0:
        return assemble_masks_reference(protos, coeffs, boxes)
    return _AssembleMasksFunction.apply(protos, coeffs, boxes.detach())
