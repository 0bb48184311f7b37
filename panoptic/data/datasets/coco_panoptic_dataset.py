"""``CocoPanopticDataset``: images + panoptic JSON + panoptic PNGs (COCO layout)."""

from __future__ import annotations

import os.path as osp
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from mmengine.dataset import BaseDataset

from panoptic.data.categories import category_metainfo, validate_categories
from panoptic.data.panoptic_io import load_json
from panoptic.registry import DATASETS, TRANSFORMS

NOT_A_VIDEO = -1


def build_pipeline(pipeline: Sequence[dict | Callable]) -> list[Callable]:
    """Build transform configs with this project's registry (no default scope needed)."""
    return [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]


def parse_segments(
    segments_info: Sequence[dict[str, Any]],
    categories_by_id: dict[int, dict[str, Any]],
    cat2label: dict[int, int],
    source: str,
) -> list[dict[str, Any]]:
    """Check the segments of one annotation and add ``isthing`` and ``label``.

    Args:
        segments_info: the annotation's ``segments_info``.
        categories_by_id: category dicts keyed by id.
        cat2label: category id -> semantic label (things first).
        source: file and image named in errors.

    Returns:
        Segment dicts with ``id``, ``category_id``, ``iscrowd``, ``area``,
        ``bbox``, ``isthing`` and ``label``.

    Raises:
        ValueError: unknown category, repeated segment id or missing key.
    """
    segments = []
    seen: set[int] = set()
    for seg in segments_info:
        for key in ("id", "category_id"):
            if key not in seg:
                raise ValueError(f"{source}: a segment lacks '{key}': {seg}")
        seg_id, cat_id = int(seg["id"]), int(seg["category_id"])
        if cat_id not in categories_by_id:
            raise ValueError(f"{source}: segment {seg_id} has unknown category_id {cat_id}")
        if seg_id in seen:
            raise ValueError(f"{source}: segment id {seg_id} appears twice")
        seen.add(seg_id)
        segments.append(
            dict(
                id=seg_id,
                category_id=cat_id,
                iscrowd=int(seg.get("iscrowd", 0)),
                area=int(seg.get("area", 0)),
                bbox=[int(v) for v in seg.get("bbox", [0, 0, 0, 0])],
                isthing=int(categories_by_id[cat_id]["isthing"]),
                label=cat2label[cat_id],
            )
        )
    return segments


@DATASETS.register_module()
class CocoPanopticDataset(BaseDataset):
    """COCO panoptic segmentation: JPEG/PNG images, one JSON, one PNG per image.

    Categories, the thing/stuff split and the colours come from the JSON. Each
    data info is a dict with ``img_path``, ``seg_map_path``, ``img_id``,
    ``height``, ``width``, ``segments_info`` (see :func:`parse_segments`),
    ``video_id`` (-1) and ``frame_index`` (0); the loading transforms read the
    files.

    Args:
        ann_file: panoptic JSON (relative to ``data_root`` unless absolute).
        data_root: dataset root folder.
        data_prefix: ``img`` (image folder) and ``seg`` (panoptic PNG folder),
            relative to ``data_root``.
        pipeline: transforms (configs or callables).
        test_mode: evaluation mode (no re-sampling of failed items).
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset` (``indices``,
            ``serialize_data``, ``lazy_init``, ``max_refetch``).
    """

    METAINFO: ClassVar[dict] = {}

    def __init__(
        self,
        ann_file: str,
        data_root: str = "",
        data_prefix: dict[str, str] | None = None,
        pipeline: Sequence[dict | Callable] = (),
        test_mode: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(img="", seg="") if data_prefix is None else dict(data_prefix),
            pipeline=build_pipeline(pipeline),
            test_mode=test_mode,
            **kwargs,
        )

    def load_data_list(self) -> list[dict[str, Any]]:
        """Read the JSON, set the category metainfo and build one data info per image."""
        data = load_json(self.ann_file)
        source = str(self.ann_file)
        for key in ("images", "annotations", "categories"):
            if key not in data:
                raise ValueError(f"{source}: missing top-level key '{key}'")
        validate_categories(data["categories"], source)
        self._metainfo.update(category_metainfo(data["categories"]))
        if "videos" in data:
            self._metainfo["videos"] = [dict(v) for v in data["videos"]]
        categories_by_id = {int(c["id"]): c for c in data["categories"]}
        cat2label = self._metainfo["cat2label"]
        images = {int(img["id"]): img for img in data["images"]}
        data_list = []
        for ann in data["annotations"]:
            if "image_id" not in ann or "segments_info" not in ann or "file_name" not in ann:
                raise ValueError(f"{source}: an annotation lacks image_id/file_name/segments_info")
            image_id = int(ann["image_id"])
            if image_id not in images:
                raise ValueError(
                    f"{source}: annotation {ann['file_name']} names unknown image_id {image_id}"
                )
            image = images[image_id]
            where = f"{source} (image {image_id}, {ann['file_name']})"
            data_list.append(
                dict(
                    img_path=osp.join(self.data_prefix["img"], image["file_name"]),
                    seg_map_path=osp.join(self.data_prefix["seg"], ann["file_name"]),
                    img_id=image_id,
                    height=int(image["height"]),
                    width=int(image["width"]),
                    segments_info=parse_segments(
                        ann["segments_info"], categories_by_id, cat2label, where
                    ),
                    video_id=int(image.get("video_id", NOT_A_VIDEO)),
                    frame_index=int(image.get("frame_index", 0)),
                )
            )
        return data_list
