"""Heads: YOLACT prediction head, protonet, and the other branches' heads."""

from panoptic.models.heads.prior_generator import YolactPriorGenerator
from panoptic.models.heads.protonet import Protonet
from panoptic.models.heads.semantic_head import SemanticHead
from panoptic.models.heads.yolact_head import YolactHead

__all__ = ["Protonet", "SemanticHead", "YolactHead", "YolactPriorGenerator"]
