"""Data layer: synthetic generator, datasets, transforms and the data preprocessor.

Importing this package registers every dataset (DATASETS), transform
(TRANSFORMS) and the data preprocessor (MODELS).
"""

from panoptic.data.data_preprocessor import PanopticDataPreprocessor
from panoptic.data.datasets import (
    CocoPanopticDataset,
    SyntheticPanopticDataset,
    SyntheticVideoDataset,
    VideoPanopticDataset,
)
from panoptic.data.transforms import (
    LoadImage,
    LoadPanopticAnnotations,
    PackPanopticInputs,
    Pad,
    PhotoMetricDistortion,
    RandomCrop,
    RandomFlip,
    Resize,
)

__all__ = [
    "CocoPanopticDataset",
    "LoadImage",
    "LoadPanopticAnnotations",
    "PackPanopticInputs",
    "Pad",
    "PanopticDataPreprocessor",
    "PhotoMetricDistortion",
    "RandomCrop",
    "RandomFlip",
    "Resize",
    "SyntheticPanopticDataset",
    "SyntheticVideoDataset",
    "VideoPanopticDataset",
]
