"""The demo behind `make demo`, one step after another.

1. generate_data: the synthetic image splits (train, val) and video splits into
   data/synthetic, unless they are already there.
2. browse: ground-truth overlays into demo_out/browse (images and video GIFs).
3. train_model: train configs/panoptic/yolact_upsnet_r18_synthetic.py on the CPU
   into demo_out/train (an interrupted demo resumes from its last checkpoint).
4. evaluate_model: PQ / SQ / RQ and mask AP on the synthetic val split.
5. write_predictions: predicted panoptic overlays beside the ground truth.
6. track_videos: train the tracking head (configs/video/video_yolact_r18_synthetic.py)
   on top of the frozen image model, track the synthetic val videos, write their
   predictions, a GIF of the first one and VPQ / STQ / ID switches (demo_out/tracking).
7. summary: tables of the numbers and the paths written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from mmengine.runner import Runner
from tqdm import tqdm

from panoptic.apis import inference_video
from panoptic.data.categories import category_metainfo
from panoptic.data.panoptic_io import load_json
from panoptic.data.synthetic import SyntheticConfig, write_image_split, write_video_split
from panoptic.engine.training import prepare_train_config, train
from panoptic.evaluation.video_metric import (
    VideoPredictionWriter,
    evaluate_video_panoptic,
    group_video_frames,
)
from panoptic.visualization import browse_dataset, write_gif
from panoptic.visualization.panoptic_overlay import draw_panoptic

DATA_DIR = Path("data/synthetic")
OUT_DIR = Path("demo_out")
IMAGE_SPLITS = {"train": (0, 2000), "val": (1, 200)}  # split -> (seed, number of images)
VIDEO_SPLITS = {"train": (0, 100), "val": (1, 20)}  # split -> (seed, number of videos)
TRAIN_CONFIG = Path("configs/panoptic/yolact_upsnet_r18_synthetic.py")
VIDEO_CONFIG = Path(__file__).resolve().parents[1] / "configs/video/video_yolact_r18_synthetic.py"
VPQ_WINDOWS = (1, 2, 3, 4)  # synthetic videos are annotated on every frame: k = 0..3
SUMMARY_KEYS = {  # table row -> (validation metric key, factor to percent)
    "PQ": ("panoptic/PQ", 1.0),
    "SQ": ("panoptic/SQ", 1.0),
    "RQ": ("panoptic/RQ", 1.0),
    "PQ things": ("panoptic/PQ_th", 1.0),
    "PQ stuff": ("panoptic/PQ_st", 1.0),
    "mask AP": ("coco/segm_mAP", 100.0),  # COCOeval reports fractions
    "mask AP50": ("coco/segm_mAP_50", 100.0),
}


def generate_data(data_dir: Path = DATA_DIR, scale: float = 1.0) -> None:
    """Write the synthetic splits that are missing (``scale`` shrinks the counts)."""
    config = SyntheticConfig()
    for split, (seed, num) in IMAGE_SPLITS.items():
        if not (data_dir / "annotations" / f"panoptic_{split}.json").is_file():
            write_image_split(data_dir, config, seed, max(int(num * scale), 1), split)
        else:
            print(f"{data_dir}/annotations/panoptic_{split}.json exists; kept")
    for split, (seed, num) in VIDEO_SPLITS.items():
        if not (data_dir / "annotations" / f"video_panoptic_{split}.json").is_file():
            write_video_split(data_dir, config, seed, max(int(num * scale), 1), split)
        else:
            print(f"{data_dir}/annotations/video_panoptic_{split}.json exists; kept")


def browse(data_dir: Path = DATA_DIR, out_dir: Path = OUT_DIR, num: int = 8) -> None:
    """Overlays of the val images and GIFs of the val videos."""
    images = dict(
        type="CocoPanopticDataset",
        data_root=str(data_dir),
        ann_file="annotations/panoptic_val.json",
        data_prefix=dict(img="images/val", seg="panoptic/val"),
    )
    videos = dict(
        type="VideoPanopticDataset",
        data_root=str(data_dir),
        ann_file="annotations/video_panoptic_val.json",
        data_prefix=dict(img="video_images/val", seg="video_panoptic/val"),
    )
    browse_dataset(images, out_dir / "browse", num=num, scale=3.0)
    browse_dataset(videos, out_dir / "browse", num=max(num // 4, 1), scale=3.0)
    print(f"browse pictures in {out_dir / 'browse'}")


def train_model(config: Path = TRAIN_CONFIG, work_dir: Path = OUT_DIR / "train") -> Runner:
    """Train the demo config; a rerun resumes from (or stops at) the last checkpoint."""
    cfg = prepare_train_config(config, work_dir=work_dir, resume="auto")
    return train(cfg)


def evaluate_model(runner: Runner) -> dict[str, float]:
    """Validation metrics of the trained model (PQ in percent, COCO AP as fractions)."""
    metrics = runner.val()
    return {key: float(value) for key, value in metrics.items()}


@torch.no_grad()
def write_predictions(
    runner: Runner, out_dir: Path = OUT_DIR / "predictions", num: int = 8
) -> Path:
    """Pictures of the first ``num`` val images: prediction (left) and ground truth (right)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = runner.model
    model.eval()
    categories = runner.val_dataloader.dataset.metainfo["categories"]
    written = 0
    for batch in runner.val_dataloader:
        for inputs, sample in zip(batch["inputs"], model.val_step(batch)):
            pred, gt = sample.pred_panoptic, sample.gt_panoptic
            image = inputs.permute(1, 2, 0).numpy().astype(np.uint8)  # (H, W, 3) BGR
            image = cv2.resize(image, pred.id_map.shape[::-1], interpolation=cv2.INTER_LINEAR)
            pictures = [
                draw_panoptic(image, np.asarray(p.id_map), p.segments, categories, scale=3.0)
                for p in (pred, gt)
            ]
            name = f"{sample.metainfo.get('img_id', written)}.png"
            cv2.imwrite(str(out_dir / name), np.concatenate(pictures, axis=1))
            written += 1
            if written == num:
                return out_dir
    return out_dir


def last_checkpoint(work_dir: Path) -> Path:
    """The checkpoint that mmengine's ``last_checkpoint`` file in ``work_dir`` names."""
    pointer = work_dir / "last_checkpoint"
    if not pointer.is_file():
        raise FileNotFoundError(f"no last_checkpoint in {work_dir}: the image model is not trained")
    return Path(pointer.read_text().strip())


def track_videos(
    image_checkpoint: Path,
    data_dir: Path = DATA_DIR,
    out_dir: Path = OUT_DIR / "tracking",
    iters: int = 200,
) -> dict[str, Any]:
    """Train the tracking head on top of the image model, then track the val videos.

    Writes the tracked predictions of every val video (``out_dir/panoptic*``), a GIF
    of the first one (``out_dir/tracked_video.gif``) and ``out_dir/metrics.json``
    (VPQ per window and mean, STQ, ID switches against the ground truth).
    """
    work_dir = out_dir / "train"
    # A rerun resumes the tracking run; a first run starts from the image weights
    # (resuming would drop load_from).
    resume = "auto" if (work_dir / "last_checkpoint").is_file() else None
    cfg = prepare_train_config(
        VIDEO_CONFIG,
        work_dir=work_dir,
        resume=resume,
        cfg_options={
            "load_from": str(image_checkpoint),
            "train_cfg.max_iters": iters,
            # Scored below from the files the tracker writes, not by the runner.
            "val_dataloader": None,
            "val_cfg": None,
            "val_evaluator": None,
            "default_hooks.checkpoint.save_best": None,
        },
    )
    runner = train(cfg)
    model = getattr(runner.model, "module", runner.model)
    model.cfg = cfg
    model.eval()
    gt_json = data_dir / "annotations" / "video_panoptic_val.json"
    gt = load_json(gt_json)
    model.dataset_meta = category_metainfo(gt["categories"])
    categories = model.dataset_meta["categories"]
    images = {image["id"]: image for image in gt["images"]}
    writer = VideoPredictionWriter(out_dir, categories)
    gif_frames: list[np.ndarray] = []
    videos = group_video_frames(gt)
    first_video = next(iter(videos))
    for video_id, image_ids in tqdm(videos.items(), desc="tracking val videos"):
        paths = [data_dir / "video_images" / "val" / images[i]["file_name"] for i in image_ids]
        results = inference_video(model, paths, video_id)
        for image_id, path, result in zip(image_ids, paths, results):
            id_map = result.pred_panoptic.id_map.cpu().numpy()
            info = images[image_id]
            ann = writer.add(
                image_id,
                Path(info["file_name"]).stem,
                video_id,
                info["frame_index"],
                id_map,
                result.pred_panoptic.segments,
            )
            if video_id == first_video:
                frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
                gif_frames.append(
                    draw_panoptic(frame, id_map, ann["segments_info"], categories, scale=3.0)
                )
    writer.write_json()
    write_gif(gif_frames, out_dir / "tracked_video.gif", fps=4.0)
    metrics = evaluate_video_panoptic(
        gt_json,
        data_dir / "video_panoptic" / "val",
        writer.json_path,
        writer.png_dir,
        VPQ_WINDOWS,
        frame_gap=1,
        workers=2,
    )
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def tracking_summary(metrics: dict[str, Any]) -> str:
    """VPQ per window (percent), its mean and the drop from k = 0, STQ and ID switches."""
    vpq = metrics["vpq"]
    lines = ["", "tracking (synthetic val videos)   value", "-" * 40]
    for key, value in vpq.items():
        if key != "mean":
            lines.append(f"VPQ {key:<29} {100 * value['All']['pq']:6.1f}")
    lines.append(f"VPQ mean over k                   {100 * vpq['mean']['All']:6.1f}")
    drop = 100 * (vpq["k0"]["All"]["pq"] - vpq["mean"]["All"])
    lines.append(f"VPQ k0 - mean                     {drop:6.1f}")
    stq = metrics["stq"]
    lines.append(f"STQ                               {100 * stq['stq']:6.1f}")
    lines.append(
        f"  AQ, IoU                         {100 * stq['aq']:6.1f} {100 * stq['iou']:6.1f}"
    )
    lines.append(f"ID switches                       {metrics['id_switches']:6d}")
    return "\n".join(lines)


def summary(metrics: dict[str, float], paths: dict[str, Path]) -> str:
    """The demo's closing table: metrics on the val split, then what was written where."""
    lines = ["", "metric (synthetic val)   value (%)", "-" * 35]
    for row, (key, to_percent) in SUMMARY_KEYS.items():
        if key in metrics:
            lines.append(f"{row:<24} {metrics[key] * to_percent:6.1f}")
    lines += ["", "written:"] + [f"  {what:<12} {path}" for what, path in paths.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the demo: synthetic data, pictures, CPU training, evaluation, "
        "predictions, video tracking."
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="synthetic data folder")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument(
        "--data-scale", type=float, default=1.0, help="fraction of the default split sizes"
    )
    parser.add_argument("--config", type=Path, default=TRAIN_CONFIG, help="config to train")
    parser.add_argument(
        "--tracking-iters", type=int, default=200, help="training iterations of the tracking head"
    )
    args = parser.parse_args(argv)
    generate_data(args.data_dir, args.data_scale)
    browse(args.data_dir, args.out)
    runner = train_model(args.config, args.out / "train")
    metrics = evaluate_model(runner)
    predictions = write_predictions(runner, args.out / "predictions")
    image_checkpoint = last_checkpoint(args.out / "train")
    tracking_dir = args.out / "tracking"
    tracking = track_videos(image_checkpoint, args.data_dir, tracking_dir, args.tracking_iters)
    paths = {
        "data": args.data_dir,
        "browse": args.out / "browse",
        "checkpoints": args.out / "train",
        "predictions": predictions,
        "tracked GIF": tracking_dir / "tracked_video.gif",
    }
    print(summary(metrics, paths))
    print(tracking_summary(tracking))
    return 0


if __name__ == "__main__":
    sys.exit(main())
