"""Data containers passed between stages."""

from panoptic.structures.panoptic_data_sample import PanopticDataSample

__all__ = ["PanopticDataSample"]
