"""Tracking: the embedding head and the online tracker."""

from panoptic.models.tracking.tracker import Track, Tracker
from panoptic.models.tracking.tracking_head import TrackingHead

__all__ = ["Track", "Tracker", "TrackingHead"]
