"""Pictures: panoptic overlays and GIFs."""

from panoptic.visualization.dataset_browser import browse_dataset
from panoptic.visualization.gif_writer import write_gif
from panoptic.visualization.panoptic_overlay import draw_panoptic, segment_caption, segment_color

__all__ = ["browse_dataset", "draw_panoptic", "segment_caption", "segment_color", "write_gif"]
