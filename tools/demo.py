"""The demo behind `make demo`, one step after another.

1. generate_data: the synthetic image splits (train, val) and video splits into
   data/synthetic, unless they are already there.
2. browse: ground-truth overlays into demo_out/browse (images and video GIFs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from panoptic.data.synthetic import SyntheticConfig, write_image_split, write_video_split
from panoptic.visualization import browse_dataset

DATA_DIR = Path("data/synthetic")
OUT_DIR = Path("demo_out")
IMAGE_SPLITS = {"train": (0, 2000), "val": (1, 200)}  # split -> (seed, number of images)
VIDEO_SPLITS = {"train": (0, 100), "val": (1, 20)}  # split -> (seed, number of videos)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the demo: synthetic data, then pictures.")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="synthetic data folder")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument(
        "--data-scale", type=float, default=1.0, help="fraction of the default split sizes"
    )
    args = parser.parse_args(argv)
    generate_data(args.data_dir, args.data_scale)
    browse(args.data_dir, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
