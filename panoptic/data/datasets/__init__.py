"""Registered datasets: COCO panoptic, video panoptic and their synthetic twins."""

from panoptic.data.datasets.coco_panoptic_dataset import CocoPanopticDataset
from panoptic.data.datasets.synthetic_panoptic_dataset import SyntheticPanopticDataset
from panoptic.data.datasets.synthetic_video_dataset import SyntheticVideoDataset
from panoptic.data.datasets.video_panoptic_dataset import VideoPanopticDataset

__all__ = [
    "CocoPanopticDataset",
    "SyntheticPanopticDataset",
    "SyntheticVideoDataset",
    "VideoPanopticDataset",
]
