"""Pictures of a dataset's ground truth: one overlay per image, one GIF per video."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from panoptic.registry import DATASETS
from panoptic.visualization.gif_writer import write_gif
from panoptic.visualization.panoptic_overlay import draw_panoptic

LOAD_PIPELINE = [dict(type="LoadImage"), dict(type="LoadPanopticAnnotations")]


def build_browse_dataset(dataset_cfg: dict[str, Any]) -> Any:
    """The dataset of a config with loading only (no augmentation), frames in order."""
    cfg = copy.deepcopy(dict(dataset_cfg))
    cfg["pipeline"] = LOAD_PIPELINE
    cfg["test_mode"] = True
    return DATASETS.build(cfg)


def browse_dataset(
    dataset_cfg: dict[str, Any],
    out_dir: str | Path,
    num: int = 10,
    scale: float = 1.0,
    fps: float = 4.0,
    progress: bool = True,
) -> list[Path]:
    """Write panoptic overlays of the first ``num`` images (or videos).

    Images become ``{out_dir}/{img_id}.png``; frames of a video become
    ``{out_dir}/video_{video_id}.gif``.

    Args:
        dataset_cfg: a dataset config (``type`` plus its arguments).
        out_dir: output folder.
        num: how many images, or how many videos for a video dataset.
        scale: upscale factor of the pictures.
        fps: GIF frame rate.
        progress: show a progress bar.

    Returns:
        The written files.
    """
    dataset = build_browse_dataset(dataset_cfg)
    categories = dataset.metainfo["categories"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    video_frames: list = []
    current_video = None
    bar = tqdm(total=num, desc="browse", disable=not progress)

    def flush_video() -> None:
        if video_frames:
            written.append(write_gif(video_frames, out_dir / f"video_{current_video}.gif", fps))
            video_frames.clear()
            bar.update(1)

    for idx in range(len(dataset)):
        results = dataset[idx]
        picture = draw_panoptic(
            results["img"],
            results["gt_pan_id_map"],
            results["gt_segments"],
            categories,
            scale=scale,
        )
        video_id = results.get("video_id", -1)
        if video_id is None or video_id < 0:
            path = out_dir / f"{results['img_id']}.png"
            if not cv2.imwrite(str(path), picture):
                raise OSError(f"cannot write {path}")
            written.append(path)
            bar.update(1)
            if len(written) >= num:
                break
            continue
        if video_id != current_video:
            flush_video()
            if len(written) >= num:
                break
            current_video = video_id
        video_frames.append(picture)
    else:
        flush_video()
    bar.close()
    return written
