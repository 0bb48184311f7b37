"""Draw a dataset's panoptic ground truth: overlays with class names and instance ids.

Examples::

    python tools/browse_dataset.py configs/_base_/datasets/synthetic_panoptic.py --out OUT
    python tools/browse_dataset.py configs/_base_/datasets/synthetic_video.py --out out --num 3

Images become OUT/<img_id>.png, videos OUT/video_<id>.gif (one GIF per video). Pictures
show the annotation as loaded, without the config's augmentations.
"""

from __future__ import annotations

import argparse
import sys

from mmengine.config import Config

from panoptic.visualization import browse_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write panoptic overlays (class names, instance ids) of a config's dataset."
    )
    parser.add_argument("config", help="config file with train/val/test dataloaders")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num", type=int, default=10, help="images or videos to draw (default 10)")
    parser.add_argument(
        "--split", choices=["train", "val", "test"], default="train", help="which dataloader"
    )
    parser.add_argument("--scale", type=float, default=2.0, help="upscale factor (default 2)")
    parser.add_argument("--fps", type=float, default=4.0, help="GIF frames per second")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    key = f"{args.split}_dataloader"
    if key not in cfg or "dataset" not in cfg[key]:
        print(f"error: {args.config} has no '{key}.dataset'", file=sys.stderr)
        return 2
    written = browse_dataset(cfg[key]["dataset"], args.out, args.num, args.scale, args.fps)
    print(f"wrote {len(written)} pictures to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
