"""GPU kernels with their PyTorch references, installed as ``panoptic.ops``.

Each op has a ``*_reference`` (plain PyTorch, runs anywhere) and a public function with
``backend="auto"`` that runs the Triton kernel on CUDA tensors and the reference otherwise.
"""

from panoptic.ops.fast_nms import fast_nms, fast_nms_reference
from panoptic.ops.prototype_assembly import (
    assemble_masks,
    assemble_masks_reference,
    assemble_masks_train,
)

__all__ = [
    "assemble_masks",
    "assemble_masks_reference",
    "assemble_masks_train",
    "fast_nms",
    "fast_nms_reference",
]
