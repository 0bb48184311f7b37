"""Package."""

from panoptic.evaluation import stq, video_metric, vpq  # noqa: F401,E402
