"""Track things through a sequence with a video model; write panoptic maps and a movie.

The input is a folder of frames (sorted by file name) or a video file. Frames are
read, predicted and written one at a time (the GIF keeps small copies of the
frames; use --animation mp4 for long sequences).

Outputs in ``--out``:
  panoptic/<frame>.png + panoptic.json   COCO panoptic style, ids constant over the video:
                                         thing id = 65536 + track id, stuff id = category
                                         id; segments carry ``instance_id`` (track id).
                                         The JSON also lists ``images`` and ``videos``, so
                                         tools/eval_video.py reads it as --pred-json.
  overlays/<frame>.jpg                   segments by category (things shaded per track),
                                         captioned "class #track score"
  tracked.gif | tracked.mp4              the overlays as an animation

Example:
  python tools/track.py configs/video/video_yolact_r18_synthetic.py work_dirs/video/last.pth \\
      --input demo/video_frames/ --out demo_out/tracked
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from panoptic.apis import inference_video, init_model
from panoptic.data.categories import category_metainfo
from panoptic.engine.checkpoint_io import load_checkpoint_file
from panoptic.evaluation.video_metric import VideoPredictionWriter
from panoptic.visualization import draw_panoptic, write_gif

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", help="video model config (configs/video/*.py)")
    parser.add_argument("checkpoint", help="trained weights (.pth) for that config")
    parser.add_argument("--input", required=True, help="a folder of frames or a video file")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument(
        "--animation",
        choices=("gif", "mp4", "none"),
        default="gif",
        help="animation of the overlays (default gif)",
    )
    parser.add_argument("--fps", type=float, default=5.0, help="frames per second of the animation")
    parser.add_argument(
        "--categories", help="COCO panoptic JSON (or a list of categories) naming the classes"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    return parser.parse_args(argv)


def list_frames(path: Path) -> tuple[int, Iterator[np.ndarray], list[str]]:
    """Number of frames, a lazy iterator of BGR frames and their names.

    Raises:
        FileNotFoundError: the path does not exist, or a folder holds no image.
        ValueError: the file is not a readable video.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(
                f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in {path}"
            )

        def read_files() -> Iterator[np.ndarray]:
            for file in files:
                image = cv2.imread(str(file), cv2.IMREAD_COLOR)
                if image is None:
                    raise ValueError(f"cannot decode frame: {file}")
                yield image

        return len(files), read_files(), [f.stem for f in files]
    if not path.is_file():
        raise FileNotFoundError(f"--input not found: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video file: {path}")
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))

    def read_video() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield frame
        finally:
            capture.release()

    return count, read_video(), [f"{path.stem}_{i:06d}" for i in range(max(count, 0))]


def load_categories(
    checkpoint: Path, categories_file: str | None, num_things: int, num_stuff: int
) -> list[dict[str, Any]]:
    """Categories from --categories, else the checkpoint's dataset_meta, else generic names.

    Raises:
        FileNotFoundError: the --categories file does not exist.
        ValueError: the categories do not have the model's thing and stuff counts.
    """
    if categories_file is not None:
        path = Path(categories_file)
        if not path.is_file():
            raise FileNotFoundError(f"--categories file not found: {path}")
        data = json.loads(path.read_text())
        categories = data["categories"] if isinstance(data, dict) else data
        source = str(path)
    else:
        state = load_checkpoint_file(checkpoint, map_location="cpu")
        meta = state.get("meta", {}) if isinstance(state, dict) else {}
        dataset_meta = meta.get("dataset_meta") if isinstance(meta, dict) else None
        if isinstance(dataset_meta, dict) and dataset_meta.get("categories"):
            categories, source = dataset_meta["categories"], str(checkpoint)
        else:
            print("warning: no categories found; using generic names", file=sys.stderr)
            categories = [
                dict(id=label + 1, name=f"class_{label}", isthing=int(label < num_things))
                for label in range(num_things + num_stuff)
            ]
            source = "generic categories"
    things = sum(1 for c in categories if c["isthing"])
    if (things, len(categories) - things) != (num_things, num_stuff):
        raise ValueError(
            f"{source}: {things} thing and {len(categories) - things} stuff categories, "
            f"the model has {num_things} and {num_stuff}"
        )
    return categories


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Track through ``args.input`` and write everything to ``args.out``.

    Returns:
        Paths of the outputs, the number of frames and of distinct tracks.
    """
    num_frames, frames, names = list_frames(Path(args.input))
    checkpoint = Path(args.checkpoint)
    model = init_model(args.config, checkpoint, device=args.device)
    if not hasattr(model, "new_tracker"):
        raise ValueError(f"{args.config}: {type(model).__name__} cannot track; use a video config")
    head = model.semantic_head
    meta = category_metainfo(
        load_categories(checkpoint, args.categories, head.num_thing_classes, head.num_stuff_classes)
    )
    model.dataset_meta = meta

    out = Path(args.out)
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    writer = VideoPredictionWriter(out, meta["categories"])
    gif_frames, tracks = [], set()
    video_writer = None
    video_path = out / f"tracked.{args.animation}"
    frame_names = iter(names)
    progress = tqdm(
        _with_frames(frames, model), total=num_frames or None, desc="track", unit="frame"
    )
    for index, (frame, result) in enumerate(progress):
        name = next(frame_names, f"frame_{index:06d}")
        id_map = result.pred_panoptic.id_map.cpu().numpy().astype(np.int32)
        segments = writer.add(index, name, 0, index, id_map, result.pred_panoptic.segments)[
            "segments_info"
        ]
        tracks.update(s["instance_id"] for s in segments if s["isthing"])
        overlay = draw_panoptic(frame, id_map, segments, meta["categories"])
        cv2.imwrite(str(out / "overlays" / f"{name}.jpg"), overlay)
        if args.animation == "mp4":
            if video_writer is None:
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                size = (overlay.shape[1], overlay.shape[0])
                video_writer = cv2.VideoWriter(str(video_path), fourcc, args.fps, size)
            video_writer.write(overlay)
        elif args.animation == "gif":
            gif_frames.append(overlay)
    if not writer.images:
        raise ValueError(f"no frames could be read from {args.input}")
    if video_writer is not None:
        video_writer.release()
    if gif_frames:
        write_gif(gif_frames, video_path, args.fps)
    json_path = writer.write_json()
    return dict(
        num_frames=len(writer.images),
        num_tracks=len(tracks),
        panoptic_json=json_path,
        panoptic_dir=writer.png_dir,
        overlays=out / "overlays",
        animation=None if args.animation == "none" else video_path,
    )


def _with_frames(
    frames: Iterator[np.ndarray], model: torch.nn.Module
) -> Iterator[tuple[np.ndarray, Any]]:
    """Pairs each frame with its tracked prediction, one frame in memory at a time."""
    current: list[np.ndarray] = []

    def remember() -> Iterator[np.ndarray]:
        for frame in frames:
            current[:] = [frame]
            yield frame

    for result in inference_video(model, remember()):
        yield current[0], result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"tracked {summary['num_frames']} frames, {summary['num_tracks']} tracks")
    for key in ("panoptic_json", "panoptic_dir", "overlays", "animation"):
        if summary[key] is not None:
            print(f"{key}: {summary[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
