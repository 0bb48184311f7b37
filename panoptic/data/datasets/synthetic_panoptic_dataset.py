"""``SyntheticPanopticDataset``: synthetic panoptic images generated on the fly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from mmengine.dataset import BaseDataset

from panoptic.data.datasets.coco_panoptic_dataset import (
    NOT_A_VIDEO,
    build_pipeline,
    parse_segments,
)
from panoptic.data.synthetic.config import SyntheticConfig
from panoptic.data.synthetic.image_generator import generate_image
from panoptic.data.synthetic.scene import SyntheticFrame
from panoptic.registry import DATASETS


def make_config(img_size: int | Sequence[int], generator_kwargs: dict[str, Any]) -> SyntheticConfig:
    """A generator config from dataset arguments, naming bad keys clearly."""
    try:
        return SyntheticConfig.from_kwargs(img_size=img_size, **generator_kwargs)
    except TypeError as err:
        raise TypeError(f"bad synthetic generator parameter: {err}") from err


def frame_data_info(
    frame: SyntheticFrame, metainfo: dict[str, Any], info: dict[str, Any], stem: str
) -> dict[str, Any]:
    """Fill a data info with an in-memory frame, as the file datasets describe files.

    ``img`` and ``pan_id_map`` carry the arrays, so the loading transforms keep
    them instead of reading ``img_path`` / ``seg_map_path`` (which name the
    files ``tools/make_synthetic.py`` would write).
    """
    categories_by_id = {c["id"]: c for c in metainfo["categories"]}
    height, width = frame.id_map.shape
    info.update(
        img=frame.image.copy(),
        pan_id_map=frame.id_map.copy(),
        img_path=f"{stem}.png",
        seg_map_path=f"{stem}.png",
        height=height,
        width=width,
        segments_info=parse_segments(
            frame.segments, categories_by_id, metainfo["cat2label"], f"synthetic {stem}"
        ),
    )
    return info


@DATASETS.register_module()
class SyntheticPanopticDataset(BaseDataset):
    """Synthetic panoptic images, generated when an item is requested (no disk).

    Item ``k`` is ``generate_image(config, seed, k)``; its data info has the
    same keys as :class:`CocoPanopticDataset`'s plus the arrays ``img`` and
    ``pan_id_map``, so the same pipelines apply.

    Args:
        seed: split seed.
        num_images: dataset length.
        img_size: image size (int for a square, or (height, width)).
        pipeline: transforms.
        test_mode: evaluation mode.
        indices: optional subset, as in :class:`mmengine.dataset.BaseDataset`.
        **generator_kwargs: other :class:`SyntheticConfig` fields
            (``thing_classes``, ``stuff_classes``, ``num_things``, ...).
    """

    METAINFO: ClassVar[dict] = {}

    def __init__(
        self,
        seed: int,
        num_images: int,
        img_size: int | Sequence[int],
        pipeline: Sequence[dict | Callable] = (),
        test_mode: bool = False,
        indices: int | Sequence[int] | None = None,
        **generator_kwargs: Any,
    ) -> None:
        self.seed = seed
        self.num_images = num_images
        self.config = make_config(img_size, generator_kwargs)
        super().__init__(
            metainfo=self.config.metainfo,
            pipeline=build_pipeline(pipeline),
            test_mode=test_mode,
            indices=indices,
            serialize_data=False,
        )

    def load_data_list(self) -> list[dict[str, Any]]:
        """One light entry per image; pixels are generated in :meth:`get_data_info`."""
        return [dict(img_id=k, video_id=NOT_A_VIDEO, frame_index=0) for k in range(self.num_images)]

    def get_data_info(self, idx: int) -> dict[str, Any]:
        """Generate image ``img_id`` of the split and describe it like a file dataset."""
        info = super().get_data_info(idx)
        frame = generate_image(self.config, self.seed, info["img_id"])
        return frame_data_info(frame, self.metainfo, info, f"{info['img_id']:06d}")
