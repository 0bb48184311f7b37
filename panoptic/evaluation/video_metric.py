"""Video panoptic evaluation: VPQ and STQ over files or streamed samples.

Two drivers share the per-frame pixel-count tables of
:mod:`panoptic.evaluation.vpq` and the accumulators of VPQ and STQ:

- :func:`evaluate_video_panoptic` reads COCO panoptic style video annotations
  (ground truth and predictions as JSON plus folders of PNGs) and spreads the
  videos over worker processes; ``tools/eval_video.py`` wraps it.
- :class:`VideoPanopticMetric` is the mmengine metric of video configs: it
  reduces each validation frame to its table as it arrives and scores the videos
  at the end.
- :class:`VideoPredictionWriter` writes tracked predictions in the layout the
  file evaluator reads (``tools/track.py`` and the demo use it).

Video layout: frames are grouped into videos by a top-level ``videos`` list
(``video_id``, ordered ``image_ids``) or by ``video_id`` and ``frame_index`` on
each entry of ``images`` (the synthetic writer's layout, Cityscapes-VPS after
adding the two keys).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import sys
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric
from tqdm import tqdm

from panoptic.data.panoptic_io import load_json, read_panoptic_png, write_panoptic_png
from panoptic.evaluation.pq import PQAccumulator
from panoptic.evaluation.stq import STQStats
from panoptic.evaluation.vpq import (
    PAIR_SHIFT,
    FrameStats,
    accumulate_video,
    count_id_switches,
    frame_stats,
    frame_stats_from_pairs,
    vpq_summary,
)
from panoptic.registry import METRICS

VPSNET_WINDOW_LENGTHS = (1, 2, 3, 4)


@dataclass(frozen=True)
class VideoFrameFiles:
    """Where one annotated frame's ground truth and prediction live."""

    gt_png: Path
    gt_segments: list[dict[str, Any]]
    pred_png: Path
    pred_segments: list[dict[str, Any]]


@dataclass
class VideoScores:
    """VPQ accumulators per window length and the STQ accumulator."""

    vpq: dict[int, PQAccumulator]
    stq: STQStats
    id_switches: int = 0

    @classmethod
    def empty(
        cls, categories: Sequence[Mapping[str, Any]], window_lengths: Sequence[int]
    ) -> VideoScores:
        vpq = {length: PQAccumulator([dict(c) for c in categories]) for length in window_lengths}
        return cls(vpq, STQStats(categories))

    def add_video(self, video_id: Hashable, frames: Sequence[FrameStats]) -> None:
        """Score one whole video given its annotated frames in order."""
        accumulate_video(frames, list(self.vpq), self.vpq)
        for frame in frames:
            self.stq.add(frame, video_id)
        self.id_switches += count_id_switches(frames)

    def merge(self, other: VideoScores) -> None:
        for length, stats in other.vpq.items():
            self.vpq[length].merge(stats)
        self.stq.merge(other.stq)
        self.id_switches += other.id_switches

    def summary(self, frame_gap: int) -> dict[str, Any]:
        """``{"vpq": {...}, "stq": {"stq", "aq", "iou"}, "id_switches": n}``.

        See :func:`panoptic.evaluation.vpq.vpq_summary` for the ``vpq`` part.
        """
        return {
            "vpq": vpq_summary(self.vpq, frame_gap),
            "stq": self.stq.summary(),
            "id_switches": self.id_switches,
        }


def group_video_frames(gt: Mapping[str, Any], source: str = "ground truth") -> dict[Any, list[Any]]:
    """Ordered image ids of every video of a COCO panoptic style video JSON.

    Args:
        gt: the loaded ground-truth JSON.
        source: how errors name the file.

    Returns:
        ``{video_id: [image_id, ...]}`` in frame order.

    A ``videos`` list is used when each entry has ``image_ids``; otherwise (or
    without it) every image needs ``video_id`` and ``frame_index``.

    Raises:
        KeyError: neither a ``videos`` list with ``image_ids`` nor ``video_id`` /
            ``frame_index`` on every image is present.
    """
    listed = gt.get("videos")
    if listed and all("image_ids" in video for video in listed):
        return {
            video.get("video_id", video.get("id")): list(video["image_ids"]) for video in listed
        }
    images = gt.get("images")
    if images is None:
        raise KeyError(f"{source}: needs 'videos' or 'images' with 'video_id' and 'frame_index'")
    videos: dict[Any, list[tuple[int, Any]]] = {}
    for image in images:
        if "video_id" not in image or "frame_index" not in image:
            raise KeyError(
                f"{source}: image {image.get('id')} lacks 'video_id' / 'frame_index' and there "
                "is no top-level 'videos' list"
            )
        videos.setdefault(image["video_id"], []).append((image["frame_index"], image["id"]))
    return {vid: [image_id for _, image_id in sorted(frames)] for vid, frames in videos.items()}


def collect_video_files(
    gt: Mapping[str, Any], gt_dir: Path, pred: Mapping[str, Any], pred_dir: Path
) -> dict[Any, list[VideoFrameFiles]]:
    """Pair every annotated ground-truth frame with its prediction, per video.

    Raises:
        KeyError: a required key is missing or an annotated frame has no prediction.
    """
    for name, data in (("ground truth", gt), ("prediction", pred)):
        if "annotations" not in data:
            raise KeyError(f"{name} JSON has no 'annotations' list")
    gt_anns = {ann["image_id"]: ann for ann in gt["annotations"]}
    pred_anns = {ann["image_id"]: ann for ann in pred["annotations"]}
    videos: dict[Any, list[VideoFrameFiles]] = {}
    for video_id, image_ids in group_video_frames(gt).items():
        frames = []
        for image_id in image_ids:
            gt_ann = gt_anns.get(image_id)
            if gt_ann is None:
                continue  # a raw frame without annotation
            pred_ann = pred_anns.get(image_id)
            if pred_ann is None:
                raise KeyError(
                    f"prediction JSON has no annotation for image_id {image_id} "
                    f"(video {video_id}, {gt_ann['file_name']})"
                )
            frames.append(
                VideoFrameFiles(
                    gt_dir / gt_ann["file_name"],
                    gt_ann["segments_info"],
                    pred_dir / pred_ann["file_name"],
                    pred_ann["segments_info"],
                )
            )
        videos[video_id] = frames
    return videos


def _read_bgr(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if bgr is None:
        raise FileNotFoundError(f"cannot read panoptic PNG (missing or corrupt): {path}")
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(f"panoptic PNG must be 8-bit RGB, got shape {bgr.shape}: {path}")
    return bgr


def _read_pair_counts(gt_png: Path, pred_png: Path) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``gt_id << 24 | pred_id`` pairs of two panoptic PNGs and their pixels.

    Ids are never formed pixel by pixel: each pixel's colour, padded to four
    bytes, is read as one uint32; the two colour rows are cut into runs of
    constant (ground truth, prediction) colour in one pass, and only the run
    heads are paired, counted (weighted by run length) and decoded into ids.
    """
    gt_bgr, pred_bgr = _read_bgr(gt_png), _read_bgr(pred_png)
    if gt_bgr.shape != pred_bgr.shape:
        raise ValueError(
            f"{pred_png}: prediction is {pred_bgr.shape[:2]} but ground truth is {gt_bgr.shape[:2]}"
        )
    if sys.byteorder != "little":
        return _pair_counts_from_ids(read_panoptic_png(gt_png), read_panoptic_png(pred_png))
    # Little-endian BGRA as uint32: B | G << 8 | R << 16 | A << 24.
    gt_colour = cv2.cvtColor(gt_bgr, cv2.COLOR_BGR2BGRA).view(np.uint32).ravel()  # (H*W,)
    pred_colour = cv2.cvtColor(pred_bgr, cv2.COLOR_BGR2BGRA).view(np.uint32).ravel()  # (H*W,)
    change = gt_colour[1:] != gt_colour[:-1]
    change |= pred_colour[1:] != pred_colour[:-1]
    heads = np.flatnonzero(np.concatenate(([True], change)))  # (R,) run starts
    lengths = np.diff(heads, append=gt_colour.size)  # (R,)
    pairs = (gt_colour[heads].astype(np.uint64) << np.uint64(32)) | pred_colour[heads]  # (R,)
    keys, run_pair = np.unique(pairs, return_inverse=True)
    pair_counts = np.bincount(run_pair, weights=lengths, minlength=len(keys)).astype(np.int64)
    gt_ids = _colour_to_id(keys >> np.uint64(32))
    pred_ids = _colour_to_id(keys & np.uint64(0xFFFFFFFF))
    return (gt_ids << PAIR_SHIFT) | pred_ids, pair_counts


def _colour_to_id(colour: np.ndarray) -> np.ndarray:
    """Panoptic id R + 256 G + 256^2 B of ``B | G << 8 | R << 16`` colours (int64)."""
    colour = colour.astype(np.int64)
    return ((colour >> 16) & 255) + 256 * ((colour >> 8) & 255) + 65536 * (colour & 255)


def _pair_counts_from_ids(
    gt_map: np.ndarray, pred_map: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    pairs = (gt_map.astype(np.int64) << PAIR_SHIFT) | pred_map.astype(np.int64)
    return np.unique(pairs.ravel(), return_counts=True)


def _score_video_files(
    job: tuple[Any, list[VideoFrameFiles], list[dict[str, Any]], tuple[int, ...]],
) -> VideoScores:
    video_id, frames, categories, window_lengths = job
    scores = VideoScores.empty(categories, window_lengths)
    stats = [
        frame_stats_from_pairs(
            *_read_pair_counts(f.gt_png, f.pred_png),
            f.gt_segments,
            f.pred_segments,
            str(f.pred_png),
        )
        for f in frames
    ]
    scores.add_video(video_id, stats)
    return scores


def evaluate_video_panoptic(
    gt_json: str | Path,
    gt_dir: str | Path,
    pred_json: str | Path,
    pred_dir: str | Path,
    window_lengths: Sequence[int] = VPSNET_WINDOW_LENGTHS,
    frame_gap: int = 5,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """VPQ and STQ of predicted videos against ground truth on disk.

    Args:
        gt_json: ground-truth JSON (``images``, ``annotations``, ``categories``
            and either ``videos`` or ``video_id`` / ``frame_index`` per image).
        gt_dir: folder of the ground-truth panoptic PNGs.
        pred_json: prediction JSON (``annotations`` with ``image_id``,
            ``file_name``, ``segments_info``; track ids are segment ids).
        pred_dir: folder of the predicted panoptic PNGs.
        window_lengths: VPQ window lengths in annotated frames.
        frame_gap: raw frames between annotated frames (names ``k`` keys).
        workers: processes; videos are spread over them.
        progress: show a progress bar over videos.

    Returns:
        ``{"vpq": {"k0": {"All": {pq, sq, rq, n}, ...}, ..., "mean": {...}},
        "stq": {"stq", "aq", "iou"}}`` with fractions.
    """
    if not window_lengths or min(window_lengths) < 1:
        raise ValueError(f"window lengths must be positive, got {list(window_lengths)}")
    gt = load_json(gt_json)
    pred = load_json(pred_json)
    if "categories" not in gt:
        raise KeyError(f"ground-truth JSON has no 'categories': {gt_json}")
    categories = gt["categories"]
    videos = collect_video_files(gt, Path(gt_dir), pred, Path(pred_dir))
    lengths = tuple(sorted(set(window_lengths)))
    jobs = [(vid, frames, categories, lengths) for vid, frames in videos.items()]
    total = VideoScores.empty(categories, lengths)
    with _job_map(workers) as mapper:
        for scores in tqdm(
            mapper(_score_video_files, jobs), total=len(jobs), desc="videos", disable=not progress
        ):
            total.merge(scores)
    return total.summary(frame_gap)


@contextlib.contextmanager
def _job_map(workers: int) -> Iterator[Callable[..., Iterator[VideoScores]]]:
    """An unordered map over jobs: in this process, or on a pool of ``workers``."""
    if workers <= 1:
        yield map
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield pool.imap_unordered


class VideoPredictionWriter:
    """Tracked panoptic predictions on disk, in the layout :func:`evaluate_video_panoptic` reads.

    Files: ``<out_dir>/panoptic/<stem>.png`` (ids as predicted: thing ids stay
    constant along a track) and ``<out_dir>/panoptic.json`` with ``images``
    (``video_id``, ``frame_index``), ``annotations`` (segments with
    ``instance_id``), ``categories`` and ``videos``.

    Args:
        out_dir: output folder (created).
        categories: COCO panoptic category dicts.
    """

    def __init__(self, out_dir: str | Path, categories: Sequence[Mapping[str, Any]]) -> None:
        self.out_dir = Path(out_dir)
        self.png_dir = self.out_dir / "panoptic"
        self.json_path = self.out_dir / "panoptic.json"
        self.png_dir.mkdir(parents=True, exist_ok=True)
        self.categories = [dict(c) for c in categories]
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.videos: dict[Any, list[Any]] = {}

    def add(
        self,
        image_id: Any,
        stem: str,
        video_id: Any,
        frame_index: int,
        id_map: np.ndarray,
        segments: Sequence[Mapping[str, Any]],
    ) -> dict[str, Any]:
        """Write one frame's PNG and keep its records; returns its annotation."""
        write_panoptic_png(self.png_dir / f"{stem}.png", id_map)
        height, width = id_map.shape[-2:]
        self.images.append(
            dict(
                id=image_id,
                file_name=f"{stem}.jpg",
                height=int(height),
                width=int(width),
                video_id=video_id,
                frame_index=int(frame_index),
            )
        )
        annotation = dict(
            image_id=image_id,
            file_name=f"{stem}.png",
            segments_info=[_segment_record(seg) for seg in segments],
        )
        self.annotations.append(annotation)
        self.videos.setdefault(video_id, []).append(image_id)
        return annotation

    def write_json(self) -> Path:
        """Write ``panoptic.json``; returns its path."""
        videos = [dict(video_id=vid, image_ids=ids) for vid, ids in self.videos.items()]
        data = dict(
            images=self.images,
            annotations=self.annotations,
            categories=self.categories,
            videos=videos,
        )
        self.json_path.write_text(json.dumps(data))
        return self.json_path


def _segment_record(seg: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = dict(
        id=int(seg["id"]),
        category_id=int(seg["category_id"]),
        iscrowd=0,
        isthing=int(bool(seg.get("isthing", 0))),
        area=int(seg.get("area", 0)),
        instance_id=int(seg.get("instance_id", 0)),
    )
    if "bbox" in seg:
        record["bbox"] = [int(v) for v in seg["bbox"]]
    if "score" in seg:
        record["score"] = float(seg["score"])
    return record


def _panoptic_fields(element: Any) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """``id_map`` (H, W) and ``segments`` of a panoptic element or its dict form."""
    fields = element if isinstance(element, Mapping) else element.to_dict()
    id_map: Any = fields["id_map"]
    array = id_map.cpu().numpy() if hasattr(id_map, "cpu") else np.asarray(id_map)
    return array.reshape(array.shape[-2:]), list(fields["segments"])


@METRICS.register_module()
class VideoPanopticMetric(BaseMetric):
    """Streaming VPQ and STQ during validation of a video config.

    Each processed frame is reduced to its pixel-count table right away (a few
    hundred bytes), so memory does not grow with the image size; videos are
    scored in ``compute_metrics`` once all frames are in.

    Args:
        window_lengths: VPQ window lengths in annotated frames.
        frame_gap: raw frames between annotated frames (names the ``k`` keys).
        collect_device: see :class:`mmengine.evaluator.BaseMetric`.
        prefix: metric name prefix.
    """

    default_prefix = "video"

    def __init__(
        self,
        window_lengths: Sequence[int] = VPSNET_WINDOW_LENGTHS,
        frame_gap: int = 1,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.window_lengths = tuple(sorted(set(window_lengths)))
        self.frame_gap = frame_gap

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            meta = sample if isinstance(sample, Mapping) else sample.metainfo
            gt_map, gt_segments = _panoptic_fields(sample["gt_panoptic"])
            pred_map, pred_segments = _panoptic_fields(sample["pred_panoptic"])
            stats = frame_stats(
                gt_map, gt_segments, pred_map, pred_segments, name=str(meta.get("img_path"))
            )
            self.results.append((meta.get("video_id", 0), meta.get("frame_index", 0), stats))

    def compute_metrics(self, results: list[Any]) -> dict[str, float]:
        categories = self.dataset_meta["categories"]
        videos: dict[Any, list[tuple[int, FrameStats]]] = {}
        for video_id, frame_index, stats in results:
            videos.setdefault(video_id, []).append((frame_index, stats))
        scores = VideoScores.empty(categories, self.window_lengths)
        for video_id, frames in videos.items():
            frames.sort(key=lambda item: item[0])
            scores.add_video(video_id, [stats for _, stats in frames])
        summary = scores.summary(self.frame_gap)
        flat = {f"vpq_{k}": v["All"]["pq"] for k, v in summary["vpq"].items() if k != "mean"}
        flat.update({f"vpq_{g.lower()}": pq for g, pq in summary["vpq"]["mean"].items()})
        flat["vpq"] = summary["vpq"]["mean"]["All"]
        flat.update(summary["stq"])
        flat["id_switches"] = summary["id_switches"]
        return flat
