"""Synthetic panoptic images and videos, fully determined by (config, seed, index)."""

from panoptic.data.synthetic.config import SyntheticConfig
from panoptic.data.synthetic.image_generator import generate_image
from panoptic.data.synthetic.scene import SyntheticFrame
from panoptic.data.synthetic.video_generator import generate_video
from panoptic.data.synthetic.writer import write_image_split, write_video_split

__all__ = [
    "SyntheticConfig",
    "SyntheticFrame",
    "generate_image",
    "generate_video",
    "write_image_split",
    "write_video_split",
]
