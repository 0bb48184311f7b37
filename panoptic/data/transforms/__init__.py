"""Registered data transforms (each handles single frames and clips)."""

from panoptic.data.transforms.loading import LoadImage, LoadPanopticAnnotations
from panoptic.data.transforms.pack_panoptic_inputs import PackPanopticInputs
from panoptic.data.transforms.pad import Pad
from panoptic.data.transforms.panoptic_transform import PanopticTransform
from panoptic.data.transforms.photometric_distortion import PhotoMetricDistortion
from panoptic.data.transforms.random_crop import RandomCrop
from panoptic.data.transforms.random_flip import RandomFlip
from panoptic.data.transforms.resize import Resize

__all__ = [
    "LoadImage",
    "LoadPanopticAnnotations",
    "PackPanopticInputs",
    "Pad",
    "PanopticTransform",
    "PhotoMetricDistortion",
    "RandomCrop",
    "RandomFlip",
    "Resize",
]
