"""Loss math as free functions."""

from panoptic.losses.yolact_loss import (
    PriorAssignment,
    box_regression_loss,
    classification_loss,
    crop_masks,
    downsample_masks,
    mask_loss,
    match_priors,
    ohem_negatives,
    semantic_aux_loss,
)

__all__ = [
    "PriorAssignment",
    "box_regression_loss",
    "classification_loss",
    "crop_masks",
    "downsample_masks",
    "mask_loss",
    "match_priors",
    "ohem_negatives",
    "semantic_aux_loss",
]
