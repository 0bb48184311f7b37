"""Necks: the YOLACT feature pyramid."""

from panoptic.models.necks.yolact_fpn import YolactFPN

__all__ = ["YolactFPN"]
