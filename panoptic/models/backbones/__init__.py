"""Backbones: ResNet."""

from panoptic.models.backbones.resnet import ResNet

__all__ = ["ResNet"]
