"""Evaluate a trained model on its config's test set: PQ and mask/box AP together.

The config's ``test_evaluator`` (e.g. ``CocoPanopticMetric`` + ``CocoInstanceMetric``)
decides what is measured. With ``--out DIR`` the predictions are also written
in COCO formats, ready for ``tools/eval_panoptic.py`` or panopticapi:

  DIR/panoptic_pred/<image>.png + DIR/panoptic_pred.json   COCO panoptic
  DIR/panoptic_metrics.json                                PQ in panopticapi's shape
  DIR/instances_results.json                               COCO instance results (RLE)
  DIR/metrics.json                                         every logged number

With ``--show-dir DIR`` a picture of each image's panoptic prediction is saved there.

Examples:
  python tools/test.py configs/panoptic/yolact_upsnet_r18_synthetic.py \\
      work_dirs/synthetic/best.pth --out work_dirs/synthetic/test
  python tools/test.py CONFIG CHECKPOINT --show-dir pictures/ --precision bf16
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

import panoptic.engine  # noqa: F401  (registers hooks; checkpoints load with weights_only)
from panoptic.engine.channels_last_hook import ChannelsLastHook
from panoptic.visualization import draw_panoptic

OUTPUT_METRICS = ("CocoPanopticMetric", "CocoInstanceMetric")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", help="model config file (e.g. configs/panoptic/*.py)")
    parser.add_argument("checkpoint", help="trained weights (.pth) for that config")
    parser.add_argument(
        "--out", default=None, help="folder for COCO-format predictions and metrics"
    )
    parser.add_argument("--show-dir", default=None, help="folder for pictures of the predictions")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="fp32, or bf16 autocast with channels-last weights (default: fp32)",
    )
    parser.add_argument(
        "--work-dir", default=None, help="folder for logs (default: work_dirs/<config>/test)"
    )
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        default={},
        help="override settings, e.g. test_dataloader.dataset.num_images=20",
    )
    return parser.parse_args(argv)


class PredictionPictureHook(Hook):
    """Save a picture of each test image's panoptic prediction.

    Args:
        show_dir: output folder.
    """

    priority = "LOW"

    def __init__(self, show_dir: str | Path) -> None:
        self.show_dir = Path(show_dir)

    def after_test_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Sequence[Any] = ()
    ) -> None:
        self.show_dir.mkdir(parents=True, exist_ok=True)
        categories = runner.test_evaluator.dataset_meta.get("categories", [])
        for k, sample in enumerate(outputs):
            if "pred_panoptic" not in sample:
                continue
            id_map = sample.pred_panoptic.id_map.cpu().numpy()
            image = _original_image(sample, data_batch["inputs"][k], id_map.shape)
            picture = draw_panoptic(image, id_map, sample.pred_panoptic.segments, categories)
            stem = Path(sample.img_path).stem if sample.get("img_path") else f"{sample.img_id}"
            cv2.imwrite(str(self.show_dir / f"{stem}.jpg"), picture)


def _original_image(sample: Any, inputs: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """The BGR image at the original size: from its file, else the resized network input."""
    path = sample.get("img_path")
    if path and Path(path).is_file():
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None and image.shape[:2] == tuple(shape):
            return image
    image = inputs.permute(1, 2, 0).cpu().numpy().astype(np.uint8)  # (H, W, 3)
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _route_outputs(cfg: Config, out: Path) -> None:
    """Point the COCO metrics of ``test_evaluator`` at ``out`` for their files."""
    evaluator = cfg.test_evaluator
    metrics = evaluator if isinstance(evaluator, list) else [evaluator]
    if isinstance(evaluator, dict) and "metrics" in evaluator:
        metrics = evaluator["metrics"]
        metrics = metrics if isinstance(metrics, list) else [metrics]
    for metric in metrics:
        if metric.get("type") in OUTPUT_METRICS:
            metric["output_dir"] = str(out)


def run_test(
    config: str,
    checkpoint: str,
    out: str | None = None,
    show_dir: str | None = None,
    precision: str = "fp32",
    work_dir: str | None = None,
    cfg_options: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Build the Runner from the config, load the checkpoint and run the test loop.

    Returns:
        The metrics of the config's ``test_evaluator``.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    for key in ("test_dataloader", "test_evaluator"):
        if key not in cfg:
            raise KeyError(f"config {config} has no '{key}'")
    cfg.setdefault("test_cfg", {})
    cfg.work_dir = work_dir or str(Path("work_dirs") / Path(config).stem / "test")
    cfg.load_from = checkpoint
    if out:
        _route_outputs(cfg, Path(out))
    runner = Runner.from_cfg(cfg)
    if show_dir:
        runner.register_hook(PredictionPictureHook(show_dir))
    autocast: contextlib.AbstractContextManager = contextlib.nullcontext()
    if precision == "bf16":
        runner.register_hook(ChannelsLastHook())
        device = "cuda" if torch.cuda.is_available() else "cpu"
        autocast = torch.autocast(device, dtype=torch.bfloat16)
    with autocast:
        metrics = runner.test()
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for path, what in ((args.config, "config"), (args.checkpoint, "checkpoint")):
        if not Path(path).is_file():
            print(f"error: {what} file not found: {path}", file=sys.stderr)
            return 2
    try:
        metrics = run_test(
            args.config,
            args.checkpoint,
            args.out,
            args.show_dir,
            args.precision,
            args.work_dir,
            args.cfg_options,
        )
    except KeyError as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 1
    for key, value in metrics.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
