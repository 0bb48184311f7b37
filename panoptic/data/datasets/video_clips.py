"""Grouping dataset frames into videos and drawing training clips from them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def group_frames(data_list: Sequence[dict[str, Any]]) -> dict[int, list[int]]:
    """Video id -> dataset indices of its frames in frame order.

    Args:
        data_list: frame data infos with ``video_id`` and ``frame_index``,
            already sorted by (video id, frame index).
    """
    videos: dict[int, list[int]] = {}
    for idx, info in enumerate(data_list):
        videos.setdefault(int(info["video_id"]), []).append(idx)
    return videos


def sample_reference_frames(
    video_frames: Sequence[int], key: int, ref_range: int, num_refs: int
) -> list[int]:
    """Draw reference frames near a key frame of the same video.

    Args:
        video_frames: dataset indices of the video's frames, in order.
        key: dataset index of the key frame (one of ``video_frames``).
        ref_range: largest distance in frames between key and reference.
        num_refs: how many references.

    Returns:
        ``num_refs`` dataset indices, other frames than the key when the video
        has any, drawn with NumPy's global generator (seeded per worker by
        the runner).
    """
    position = list(video_frames).index(key)
    low, high = max(position - ref_range, 0), min(position + ref_range, len(video_frames) - 1)
    candidates = [video_frames[p] for p in range(low, high + 1) if p != position] or [key]
    picks = np.random.randint(0, len(candidates), size=num_refs)
    return [candidates[p] for p in picks]


def clip_info(frames: list[dict[str, Any]], sample_idx: int) -> dict[str, Any]:
    """The data info of a training clip: key frame first, then references."""
    key = frames[0]
    return dict(
        frames=frames,
        clip_len=len(frames),
        video_id=key["video_id"],
        frame_index=key["frame_index"],
        img_id=key["img_id"],
        sample_idx=sample_idx,
    )
