"""Writing synthetic splits to disk in the COCO panoptic / video panoptic layouts.

Image split (read back by ``CocoPanopticDataset``)::

    DIR/annotations/panoptic_{split}.json
    DIR/images/{split}/{index:06d}.png           (or .jpg)
    DIR/panoptic/{split}/{index:06d}.png

Video split (Cityscapes-VPS layout, read back by ``VideoPanopticDataset``)::

    DIR/annotations/video_panoptic_{split}.json  (``videos``, ``images`` with
                                                 ``video_id`` / ``frame_index``)
    DIR/video_images/{split}/{video:04d}_{frame:04d}.png
    DIR/video_panoptic/{split}/{video:04d}_{frame:04d}.png
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tqdm import tqdm

from panoptic.data.panoptic_io import write_image, write_panoptic_png
from panoptic.data.synthetic.config import SyntheticConfig
from panoptic.data.synthetic.image_generator import generate_image
from panoptic.data.synthetic.scene import SyntheticFrame
from panoptic.data.synthetic.video_generator import generate_video

SEGMENT_KEYS = ("id", "category_id", "iscrowd", "area", "bbox")


def _info(config: SyntheticConfig, seed: int, kind: str) -> dict[str, Any]:
    return dict(
        description=f"synthetic panoptic {kind} (seed {seed})",
        img_size=list(config.img_size),
        seed=seed,
    )


def _record(frame: SyntheticFrame, image_id: int, stem: str, ext: str) -> tuple[dict, dict]:
    height, width = frame.id_map.shape
    image = dict(id=image_id, file_name=stem + ext, height=height, width=width)
    segments = [{k: seg[k] for k in SEGMENT_KEYS} for seg in frame.segments]
    annotation = dict(image_id=image_id, file_name=stem + ".png", segments_info=segments)
    return image, annotation


def write_image_split(
    out_dir: str | Path,
    config: SyntheticConfig,
    seed: int,
    num_images: int,
    split: str = "train",
    image_ext: str = ".png",
    progress: bool = True,
) -> Path:
    """Generate ``num_images`` images and write them as a COCO panoptic split.

    Args:
        out_dir: dataset root.
        config: generator parameters.
        seed: split seed (image ``k`` is ``generate_image(config, seed, k)``).
        num_images: how many images.
        split: split name used in folder and file names.
        image_ext: ``.png`` (lossless: exact round trip) or ``.jpg``.
        progress: show a progress bar.

    Returns:
        Path of the written annotation JSON.
    """
    out_dir = Path(out_dir)
    images, annotations = [], []
    for index in tqdm(range(num_images), desc=f"synthetic {split}", disable=not progress):
        frame = generate_image(config, seed, index)
        stem = f"{index:06d}"
        write_image(out_dir / "images" / split / (stem + image_ext), frame.image)
        write_panoptic_png(out_dir / "panoptic" / split / (stem + ".png"), frame.id_map)
        image, annotation = _record(frame, index, stem, image_ext)
        images.append(image)
        annotations.append(annotation)
    data = dict(
        info=_info(config, seed, "images"),
        images=images,
        annotations=annotations,
        categories=config.categories,
    )
    ann_file = out_dir / "annotations" / f"panoptic_{split}.json"
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text(json.dumps(data))
    return ann_file


def write_video_split(
    out_dir: str | Path,
    config: SyntheticConfig,
    seed: int,
    num_videos: int,
    split: str = "train",
    image_ext: str = ".png",
    progress: bool = True,
) -> Path:
    """Generate ``num_videos`` videos and write them in the video panoptic layout.

    Image ids are ``video * num_frames + frame``; a thing keeps its segment id
    in every frame.

    Returns:
        Path of the written annotation JSON.
    """
    out_dir = Path(out_dir)
    videos, images, annotations = [], [], []
    for video in tqdm(range(num_videos), desc=f"synthetic videos {split}", disable=not progress):
        frames = generate_video(config, seed, video)
        videos.append(dict(id=video, name=f"{video:04d}", num_frames=len(frames)))
        for t, frame in enumerate(frames):
            stem = f"{video:04d}_{t:04d}"
            write_image(out_dir / "video_images" / split / (stem + image_ext), frame.image)
            write_panoptic_png(out_dir / "video_panoptic" / split / (stem + ".png"), frame.id_map)
            image, annotation = _record(frame, video * config.num_frames + t, stem, image_ext)
            image.update(video_id=video, frame_index=t)
            images.append(image)
            annotations.append(annotation)
    data = dict(
        info=_info(config, seed, "videos"),
        videos=videos,
        images=images,
        annotations=annotations,
        categories=config.categories,
    )
    ann_file = out_dir / "annotations" / f"video_panoptic_{split}.json"
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text(json.dumps(data))
    return ann_file
