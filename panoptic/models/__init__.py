"""Models: backbones, necks, heads, fusion, tracking and the top-level models.

Importing this package registers every model component in
:data:`panoptic.registry.MODELS`.
"""

from panoptic.models import backbones, fusion, heads, necks, tracking  # noqa: F401
from panoptic.models.panoptic_yolact import PanopticYolact
from panoptic.models.video_panoptic_yolact import VideoPanopticYolact
from panoptic.models.yolact import Yolact

__all__ = ["PanopticYolact", "VideoPanopticYolact", "Yolact"]
