"""Fusion of semantic and instance outputs into panoptic segmentation.

:class:`UPSNetPanopticHead` (UPSNet's parameter-free panoptic head on YOLACT's
mask logits) and :class:`HeuristicFusion` (Panoptic FPN's paste rule, for
ablation) share one ``predict`` signature, so a config swaps them.
"""

from panoptic.models.fusion.heuristic_fusion import HeuristicFusion
from panoptic.models.fusion.upsnet_panoptic_head import UPSNetPanopticHead

__all__ = ["HeuristicFusion", "UPSNetPanopticHead"]
