"""Fast instance, panoptic and video panoptic segmentation.

A shared ResNet + FPN backbone drives a YOLACT instance branch, a semantic
"stuff" branch, a UPSNet-style parameter-free panoptic head and a VPSNet-style
tracker. Importing this package is cheap: components register lazily through
the registries in :mod:`panoptic.registry`.
"""

__version__ = "0.1.0"
