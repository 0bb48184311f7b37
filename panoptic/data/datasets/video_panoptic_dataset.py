"""``VideoPanopticDataset``: the Cityscapes-VPS layout used by VPSNet."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from panoptic.data.datasets.coco_panoptic_dataset import NOT_A_VIDEO, CocoPanopticDataset
from panoptic.data.datasets.video_clips import clip_info, group_frames, sample_reference_frames
from panoptic.registry import DATASETS


@DATASETS.register_module()
class VideoPanopticDataset(CocoPanopticDataset):
    """Video panoptic segmentation in one COCO-panoptic-like JSON.

    The JSON holds ``videos`` (``id``, ``name``), ``images`` that carry
    ``video_id`` and ``frame_index``, ``annotations`` with ``segments_info``
    (a thing keeps its segment id across the frames of a video) and
    ``categories``; each frame has a panoptic PNG.

    Training (``test_mode=False``) yields clips: item ``i`` is frame ``i`` as the
    key frame followed by ``num_ref_frames`` reference frames of the same video
    at most ``ref_range`` frames away, under ``frames``; the pipeline applies
    one random draw to all of them. Evaluation yields single frames sorted by
    (video, frame index), so a sequential sampler walks every sequence in order.

    Args:
        ann_file: the video panoptic JSON.
        data_root: dataset root folder.
        data_prefix: ``img`` and ``seg`` folders relative to ``data_root``.
        pipeline: transforms.
        test_mode: evaluation mode.
        ref_range: largest key-to-reference distance in frames (training).
        num_ref_frames: reference frames per clip (training).
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = "",
        data_prefix: dict[str, str] | None = None,
        pipeline: Sequence[dict | Callable] = (),
        test_mode: bool = False,
        ref_range: int = 3,
        num_ref_frames: int = 1,
        **kwargs: Any,
    ) -> None:
        self.ref_range = ref_range
        self.num_ref_frames = num_ref_frames
        super().__init__(ann_file, data_root, data_prefix, pipeline, test_mode, **kwargs)

    def load_data_list(self) -> list[dict[str, Any]]:
        """Frames sorted by (video id, frame index); checks the video keys."""
        data_list = super().load_data_list()
        for info in data_list:
            if info["video_id"] == NOT_A_VIDEO:
                raise ValueError(
                    f"{self.ann_file}: image {info['img_id']} lacks 'video_id' (video layout)"
                )
        data_list.sort(key=lambda info: (info["video_id"], info["frame_index"]))
        for prev, cur in itertools.pairwise(data_list):
            if (prev["video_id"], prev["frame_index"]) == (cur["video_id"], cur["frame_index"]):
                raise ValueError(
                    f"{self.ann_file}: video {cur['video_id']} has frame_index "
                    f"{cur['frame_index']} twice"
                )
        return data_list

    def full_init(self) -> None:
        """Load the frames, then index them by video (after any ``indices`` subset)."""
        if self._fully_initialized:
            return
        super().full_init()
        frames = [CocoPanopticDataset.get_data_info(self, i) for i in range(len(self))]
        self._videos = group_frames(frames)

    def get_data_info(self, idx: int) -> dict[str, Any]:
        """A frame (evaluation) or a clip with key frame ``idx`` (training)."""
        key = super().get_data_info(idx)
        if self.test_mode:
            return key
        refs = sample_reference_frames(
            self._videos[key["video_id"]], key["sample_idx"], self.ref_range, self.num_ref_frames
        )
        frames = [key] + [CocoPanopticDataset.get_data_info(self, r) for r in refs]
        return clip_info(frames, key["sample_idx"])
