"""``SyntheticVideoDataset``: synthetic panoptic videos generated on the fly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from mmengine.dataset import BaseDataset

from panoptic.data.datasets.coco_panoptic_dataset import build_pipeline
from panoptic.data.datasets.synthetic_panoptic_dataset import frame_data_info, make_config
from panoptic.data.datasets.video_clips import clip_info, group_frames, sample_reference_frames
from panoptic.data.synthetic.scene import SyntheticFrame
from panoptic.data.synthetic.video_generator import generate_video
from panoptic.registry import DATASETS


@DATASETS.register_module()
class SyntheticVideoDataset(BaseDataset):
    """Synthetic panoptic videos with the items of :class:`VideoPanopticDataset`.

    Frame ``t`` of video ``v`` has image id ``v * num_frames + t`` (as written by
    ``tools/make_synthetic.py --video``). Training yields clips (key frame plus
    ``num_ref_frames`` references within ``ref_range`` frames) under ``frames``;
    evaluation yields frames in (video, frame) order.

    Args:
        seed: split seed.
        num_videos: number of videos.
        img_size: frame size (int for a square, or (height, width)).
        pipeline: transforms.
        test_mode: evaluation mode.
        ref_range: largest key-to-reference distance in frames.
        num_ref_frames: references per training clip.
        indices: optional subset of frames.
        **generator_kwargs: other :class:`SyntheticConfig` fields
            (``num_frames``, ``max_speed``, ``thing_classes``, ...).
    """

    METAINFO: ClassVar[dict] = {}

    def __init__(
        self,
        seed: int,
        num_videos: int,
        img_size: int | Sequence[int],
        pipeline: Sequence[dict | Callable] = (),
        test_mode: bool = False,
        ref_range: int = 3,
        num_ref_frames: int = 1,
        indices: int | Sequence[int] | None = None,
        **generator_kwargs: Any,
    ) -> None:
        self.seed = seed
        self.num_videos = num_videos
        self.ref_range = ref_range
        self.num_ref_frames = num_ref_frames
        self.config = make_config(img_size, generator_kwargs)
        self._cache: dict[int, list[SyntheticFrame]] = {}
        super().__init__(
            metainfo=self.config.metainfo,
            pipeline=build_pipeline(pipeline),
            test_mode=test_mode,
            indices=indices,
            serialize_data=False,
        )
        self._metainfo["videos"] = [
            dict(id=v, name=f"{v:04d}", num_frames=self.config.num_frames)
            for v in range(num_videos)
        ]

    def load_data_list(self) -> list[dict[str, Any]]:
        """One light entry per frame, in (video, frame) order."""
        num_frames = self.config.num_frames
        return [
            dict(img_id=v * num_frames + t, video_id=v, frame_index=t)
            for v in range(self.num_videos)
            for t in range(num_frames)
        ]

    def full_init(self) -> None:
        """Index the frames by video once the (possibly subset) list exists."""
        if self._fully_initialized:
            return
        super().full_init()
        self._videos = group_frames(self.data_list)

    def _sequential_frame(self, video_id: int, frame_index: int) -> SyntheticFrame:
        # Evaluation walks the videos in order: render each whole video once and
        # keep the last two.
        if video_id not in self._cache:
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[video_id] = generate_video(self.config, self.seed, video_id)
        return self._cache[video_id][frame_index]

    def _describe(self, info: dict[str, Any], frame: SyntheticFrame) -> dict[str, Any]:
        stem = f"{info['video_id']:04d}_{info['frame_index']:04d}"
        return frame_data_info(frame, self.metainfo, info, stem)

    def get_data_info(self, idx: int) -> dict[str, Any]:
        """A frame (evaluation) or a clip with key frame ``idx`` (training).

        A training clip renders only its own frames.
        """
        key = BaseDataset.get_data_info(self, idx)
        if self.test_mode:
            return self._describe(key, self._sequential_frame(key["video_id"], key["frame_index"]))
        refs = sample_reference_frames(
            self._videos[key["video_id"]], idx, self.ref_range, self.num_ref_frames
        )
        infos = [key] + [BaseDataset.get_data_info(self, r) for r in refs]
        frames = generate_video(
            self.config, self.seed, key["video_id"], [info["frame_index"] for info in infos]
        )
        return clip_info([self._describe(i, f) for i, f in zip(infos, frames)], idx)
