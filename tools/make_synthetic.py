"""Write a synthetic panoptic split to disk in the standard formats.

Images (COCO panoptic layout, read by CocoPanopticDataset)::

    python tools/make_synthetic.py --out data/synthetic --split train --num 2000 --seed 0
    -> data/synthetic/annotations/panoptic_train.json, images/train/*.png, panoptic/train/*.png

Videos (Cityscapes-VPS layout, read by VideoPanopticDataset)::

    python tools/make_synthetic.py --out data/synthetic --split val --num 20 --seed 1 --video
    -> data/synthetic/annotations/video_panoptic_val.json, video_images/val/, video_panoptic/val/

Generator parameters (classes, sizes, counts, motion) are listed in docs/datasets.md and
can be changed with --set KEY=VALUE, e.g. --set num_things=[3,6] --set num_frames=12.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time

from panoptic.data.synthetic import SyntheticConfig, write_image_split, write_video_split


def parse_set(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs with Python literal values."""
    out: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Generate synthetic panoptic images (or videos) and write them as files "
        "that CocoPanopticDataset / VideoPanopticDataset and the evaluators read."
    )
    parser.add_argument("--out", required=True, help="dataset root folder, e.g. data/synthetic")
    parser.add_argument("--split", default="train", help="split name (default: train)")
    parser.add_argument(
        "--num", type=int, default=None, help="images (default 2000) or videos (default 100)"
    )
    parser.add_argument("--seed", type=int, default=0, help="split seed (default: 0)")
    parser.add_argument(
        "--img-size", type=int, nargs="+", default=[160], help="H [W] (default: 160)"
    )
    parser.add_argument("--video", action="store_true", help="write videos instead of images")
    parser.add_argument("--jpg", action="store_true", help="JPEG images (PNG is lossless)")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="other generator parameters"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = args.img_size if len(args.img_size) == 2 else args.img_size * 2
    try:
        config = SyntheticConfig.from_kwargs(img_size=size, **parse_set(args.set))
    except (TypeError, ValueError) as err:
        print(f"error: bad generator parameter: {err}", file=sys.stderr)
        return 2
    ext = ".jpg" if args.jpg else ".png"
    start = time.perf_counter()
    if args.video:
        num = 100 if args.num is None else args.num
        ann_file = write_video_split(args.out, config, args.seed, num, args.split, ext)
        what = f"{num} videos x {config.num_frames} frames"
    else:
        num = 2000 if args.num is None else args.num
        ann_file = write_image_split(args.out, config, args.seed, num, args.split, ext)
        what = f"{num} images"
    print(f"wrote {what} in {time.perf_counter() - start:.1f} s; annotations: {ann_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
