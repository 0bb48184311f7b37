"""Time mask AP and box AP with pycocotools' COCOeval against hotcoco's on many images.

Replicates the real COCO sample's detection-format ground truth
(tests/data/coco_panoptic_sample: two val2017 images, 50 annotations) to
``--images`` images, numbering annotations from 1 (pycocotools never counts a
match to id 0; see docs/evaluation.md), and writes a perturbed prediction for
each: every non-crowd object kept with probability 0.85, its mask shifted by up
to 6 pixels, its box jittered, its score random, its category sometimes wrong;
plus a few false-positive blobs per image. Then times
:func:`panoptic.evaluation.instance_metric.evaluate_coco_instances` (segm and
bbox, thing categories) with each backend, interleaved over ``--repeats``
runs, and checks that the 12 numbers per IoU type are equal.

Example::

    python tools/benchmark_instances.py --images 500 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from tqdm import tqdm

from panoptic.evaluation import instance_metric
from panoptic.evaluation.coco_writers import encode_masks_rle
from panoptic.evaluation.instance_metric import coco_from_dataset, evaluate_coco_instances

SAMPLE = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "data"
    / "coco_panoptic_sample"
    / "panoptic_coco_detection_format.json"
)


def build_dataset(num_images: int, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The replicated ground truth (detection format) and the perturbed results."""
    sample = json.loads(SAMPLE.read_text())
    things = [c["id"] for c in sample["categories"] if c.get("isthing", 1)]
    rng = np.random.default_rng(seed)
    by_image: dict[int, list[dict[str, Any]]] = {}
    for annotation in sample["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    sources = [image for image in sample["images"] if image["id"] in by_image]
    decoded = {
        a["id"]: mask_utils.decode(mask_utils.frPyObjects(a["segmentation"], 1, 1))
        if isinstance(a["segmentation"]["counts"], list)
        else mask_utils.decode(a["segmentation"])
        for a in sample["annotations"]
    }
    images, annotations, results = [], [], []
    for k in tqdm(range(num_images), desc="building"):
        source = sources[k % len(sources)]
        height, width = source["height"], source["width"]
        images.append({**source, "id": k})
        for annotation in by_image[source["id"]]:
            annotations.append({**annotation, "id": len(annotations) + 1, "image_id": k})
            if annotation["iscrowd"] or annotation["category_id"] not in things:
                continue
            if rng.random() > 0.85:
                continue
            dy, dx = (int(v) for v in rng.integers(-6, 7, size=2))
            mask = np.roll(decoded[annotation["id"]], (dy, dx), axis=(0, 1))
            x, y, w, h = annotation["bbox"]
            category = annotation["category_id"]
            if rng.random() < 0.1:
                category = int(rng.choice(things))
            results.append(
                {
                    "image_id": k,
                    "category_id": category,
                    "bbox": [x + dx + rng.normal(0, 2), y + dy + rng.normal(0, 2), w, h],
                    "score": float(rng.random()),
                    "segmentation": encode_masks_rle(mask[None])[0],
                }
            )
        for _ in range(int(rng.integers(0, 4))):
            mask = np.zeros((height, width), bool)
            y0, x0 = int(rng.integers(0, height - 40)), int(rng.integers(0, width - 40))
            h, w = int(rng.integers(8, 40)), int(rng.integers(8, 40))
            mask[y0 : y0 + h, x0 : x0 + w] = True
            results.append(
                {
                    "image_id": k,
                    "category_id": int(rng.choice(things)),
                    "bbox": [x0, y0, w, h],
                    "score": float(rng.random()) * 0.5,
                    "segmentation": encode_masks_rle(mask[None])[0],
                }
            )
    dataset = {**sample, "images": images, "annotations": annotations}
    return dataset, results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time COCO mask/box AP with pycocotools and hotcoco on the COCO sample "
        "replicated to many images; the numbers must be equal."
    )
    parser.add_argument("--images", type=int, default=500, help="number of images (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per backend (median)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbations")
    parser.add_argument("--out", default=None, help="write the timings here as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if instance_metric.hotcoco is None:
        print("error: hotcoco is not installed (pip install hotcoco)", file=sys.stderr)
        return 2
    dataset, results = build_dataset(args.images, args.seed)
    coco_gt = coco_from_dataset(dataset)
    things = [c["id"] for c in dataset["categories"] if c.get("isthing", 1)]
    backends = ("pycocotools", "hotcoco")
    seconds: dict[str, list[float]] = {b: [] for b in backends}
    stats: dict[str, Any] = {}
    for _ in tqdm(range(args.repeats), desc="timing"):
        for backend in backends:
            start = time.perf_counter()
            stats[backend], _ = evaluate_coco_instances(
                coco_gt, copy.deepcopy(results), ("segm", "bbox"), things, backend
            )
            seconds[backend].append(time.perf_counter() - start)
    if stats["pycocotools"] != stats["hotcoco"]:
        print("error: the backends disagree:", json.dumps(stats, indent=1), file=sys.stderr)
        return 1
    median = {b: statistics.median(v) for b, v in seconds.items()}
    print(
        f"{args.images} images, {len(dataset['annotations'])} annotations, {len(results)} "
        f"results, segm + bbox, median of {args.repeats} runs"
    )
    for backend in backends:
        speedup = median["pycocotools"] / median[backend]
        print(f"  {backend:12s} {median[backend]:8.2f} s  {speedup:6.2f}x")
    segm, bbox = stats["pycocotools"]["segm"], stats["pycocotools"]["bbox"]
    print(f"  mask AP {100 * segm['mAP']:.2f}, box AP {100 * bbox['mAP']:.2f}: equal in both")
    if args.out:
        report = {"images": args.images, "seconds": median, "stats": stats["pycocotools"]}
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
