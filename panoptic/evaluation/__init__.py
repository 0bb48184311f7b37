"""Evaluation: PQ with panopticapi's rules, COCO AP, video metrics, COCO writers."""

from panoptic.evaluation import stq, video_metric, vpq  # noqa: F401
from panoptic.evaluation.coco_writers import (
    CocoInstanceWriter,
    CocoPanopticWriter,
    SegmentColorGenerator,
    encode_panoptic,
    instances_to_coco,
)
from panoptic.evaluation.instance_metric import CocoInstanceMetric, evaluate_coco_instances
from panoptic.evaluation.panoptic_metric import CocoPanopticMetric
from panoptic.evaluation.pq import (
    ImagePQ,
    PQAccumulator,
    SegmentOverlaps,
    crowd_rows,
    false_positive_is_ignored,
    match_segments,
    pq_image,
    segment_overlaps,
)
from panoptic.evaluation.pq_files import evaluate_panoptic_files, read_panoptic_ids

__all__ = [
    "CocoInstanceMetric",
    "CocoInstanceWriter",
    "CocoPanopticMetric",
    "CocoPanopticWriter",
    "ImagePQ",
    "PQAccumulator",
    "SegmentColorGenerator",
    "SegmentOverlaps",
    "crowd_rows",
    "encode_panoptic",
    "evaluate_coco_instances",
    "evaluate_panoptic_files",
    "false_positive_is_ignored",
    "instances_to_coco",
    "match_segments",
    "pq_image",
    "read_panoptic_ids",
    "segment_overlaps",
]
