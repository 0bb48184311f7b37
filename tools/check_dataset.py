"""Validate a COCO panoptic (or video panoptic) dataset on disk.

Example::

    python tools/check_dataset.py data/synthetic/annotations/panoptic_val.json \\
        --seg-dir data/synthetic/panoptic/val --img-dir data/synthetic/images/val

Reports PNG ids missing from the JSON and the reverse, unknown categories, categories
without `isthing`, JSON areas that disagree with the PNG, duplicate ids, empty images,
unreadable files and broken video frame order. Exits with 1 when it finds errors.
"""

from __future__ import annotations

import argparse
import sys

from panoptic.data.dataset_check import check_panoptic_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check a panoptic JSON against its PNGs (and images); exit 1 on errors."
    )
    parser.add_argument("ann_file", help="panoptic JSON (COCO or video layout)")
    parser.add_argument("--seg-dir", required=True, help="folder of the panoptic PNGs")
    parser.add_argument("--img-dir", help="folder of the images (also checks they decode)")
    parser.add_argument(
        "--max-per-kind", type=int, default=20, help="findings listed per kind (default 20)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = check_panoptic_dataset(args.ann_file, args.seg_dir, args.img_dir, progress=True)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.format(args.max_per_kind))
    return 1 if report.num_errors else 0


if __name__ == "__main__":
    sys.exit(main())
