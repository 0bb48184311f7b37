"""Score video panoptic predictions: VPQ (VPSNet) and STQ (deeplab2).

Ground truth and predictions are COCO panoptic style: a JSON with
``annotations`` (``image_id``, ``file_name``, ``segments_info``) plus a folder of
PNGs (id = R + 256 G + 256^2 B). The ground-truth JSON also holds ``images`` and
``categories`` and groups frames into videos, either with a top-level ``videos``
list (``video_id``, ordered ``image_ids``) or with ``video_id`` and
``frame_index`` on each image. Predicted thing segments keep their id across
frames (the track id); see docs/video.md for converting Cityscapes-VPS and
VIPSeg.

Example:
    python tools/eval_video.py --gt-json data/vps/val.json --gt-dir data/vps/panoptic \\
        --pred-json out/pred.json --pred-dir out/panoptic --workers 4 --out metrics.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from panoptic.evaluation.video_metric import VPSNET_WINDOW_LENGTHS, evaluate_video_panoptic


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Writes {'vpq': {'k0': {'All': {pq, sq, rq, n}, ...}, ..., 'mean': ...}, "
        "'stq': {stq, aq, iou}, 'id_switches': n} with values as fractions.",
    )
    parser.add_argument("--gt-json", required=True, type=Path, help="ground-truth video JSON")
    parser.add_argument("--gt-dir", required=True, type=Path, help="folder of ground-truth PNGs")
    parser.add_argument("--pred-json", required=True, type=Path, help="prediction JSON")
    parser.add_argument("--pred-dir", required=True, type=Path, help="folder of predicted PNGs")
    parser.add_argument(
        "--window-lengths",
        type=int,
        nargs="+",
        default=list(VPSNET_WINDOW_LENGTHS),
        help="VPQ windows in annotated frames (VPSNet: 1 2 3 4; VIPSeg: 1 2 4 6 8)",
    )
    parser.add_argument(
        "--frame-gap",
        type=int,
        default=5,
        help="raw frames between annotated frames; a window of L frames is keyed k{(L-1)*gap}",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes (videos are split)")
    parser.add_argument("--out", type=Path, help="write the metrics JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for flag, folder in (("--gt-dir", args.gt_dir), ("--pred-dir", args.pred_dir)):
        if not folder.is_dir():
            print(f"error: {flag} is not a folder: {folder}", file=sys.stderr)
            return 2
    try:
        metrics = evaluate_video_panoptic(
            args.gt_json,
            args.gt_dir,
            args.pred_json,
            args.pred_dir,
            args.window_lengths,
            args.frame_gap,
            args.workers,
        )
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for key, value in metrics["vpq"].items():
        if key != "mean":
            print(f"VPQ {key:>4}: " + "  ".join(f"{g} {value[g]['pq']:.4f}" for g in value))
    mean = metrics["vpq"]["mean"]
    print("VPQ mean: " + "  ".join(f"{g} {pq:.4f}" for g, pq in mean.items()))
    stq = metrics["stq"]
    print(f"STQ {stq['stq']:.4f}  AQ {stq['aq']:.4f}  IoU {stq['iou']:.4f}")
    print(f"ID switches: {metrics['id_switches']}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(metrics, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
