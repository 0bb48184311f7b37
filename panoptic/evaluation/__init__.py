"""Evaluation: PQ with panopticapi's rules, COCO AP, video metrics, COCO writers.

The names below are imported on first use (PEP 562), so that the PQ tools,
which need numpy alone, do not pay for importing torch and mmengine (about
2 s) through the streaming metrics. The metrics register themselves in
:data:`panoptic.registry.METRICS` when their modules are imported.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CocoInstanceWriter": "coco_writers",
    "CocoPanopticWriter": "coco_writers",
    "SegmentColorGenerator": "coco_writers",
    "encode_panoptic": "coco_writers",
    "instances_to_coco": "coco_writers",
    "CocoInstanceMetric": "instance_metric",
    "evaluate_coco_instances": "instance_metric",
    "CocoPanopticMetric": "panoptic_metric",
    "ImagePQ": "pq",
    "PQAccumulator": "pq",
    "SegmentOverlaps": "pq",
    "crowd_rows": "pq",
    "false_positive_is_ignored": "pq",
    "match_segments": "pq",
    "pq_image": "pq",
    "segment_overlaps": "pq",
    "evaluate_panoptic_files": "pq_files",
    "read_panoptic_ids": "pq_files",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
