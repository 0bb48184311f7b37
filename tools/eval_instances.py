r"""COCO mask AP and box AP (the 12 standard numbers each) of a COCO results file.

Runs ``COCOeval`` (pycocotools', or hotcoco's with ``--backend hotcoco``: the
same numbers, faster) on a detection-format ground truth and a results
list (``image_id``, ``category_id``, ``bbox`` as x, y, w, h, ``score`` and, for
mask AP, ``segmentation`` as RLE) such as ``tools/test.py --out`` writes.
When the ground-truth categories carry ``isthing`` (a panoptic set converted to
detection format), only thing categories are evaluated unless ``--all-categories``.

Example::

    python tools/eval_instances.py --gt-json data/coco/annotations/instances_val2017.json \
        --pred-json work_dirs/test/instances_results.json --out instance_metrics.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from panoptic.evaluation.instance_metric import (
    BACKENDS,
    IOU_TYPES,
    evaluate_coco_instances,
    load_coco,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compute COCO mask AP and box AP of instance predictions with COCOeval."
    )
    parser.add_argument("--gt-json", required=True, help="COCO detection-format ground truth")
    parser.add_argument("--pred-json", required=True, help="COCO results list (JSON)")
    parser.add_argument(
        "--iou-types",
        nargs="+",
        choices=IOU_TYPES,
        default=list(IOU_TYPES),
        help="segm (mask AP) and/or bbox (box AP); default both",
    )
    parser.add_argument(
        "--all-categories",
        action="store_true",
        help="also evaluate categories marked isthing=0 (stuff) in the ground truth",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="pycocotools",
        help="COCOeval implementation: pycocotools (the reference, default) or hotcoco "
        "(pip install hotcoco; same 12 numbers, faster)",
    )
    parser.add_argument("--out", default=None, help="write {iou type: {stat: value}} here as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        coco_gt = load_coco(args.gt_json)
        path = Path(args.pred_json)
        if not path.is_file():
            raise FileNotFoundError(f"results file {path} does not exist")
        results = json.loads(path.read_text())
        if not isinstance(results, list):
            raise ValueError(f"results file {path} must hold a JSON list of result dicts")
        categories = coco_gt.dataset["categories"]
        category_ids = None
        if not args.all_categories and all("isthing" in c for c in categories):
            category_ids = [c["id"] for c in categories if c["isthing"]]
        stats, summary = evaluate_coco_instances(
            coco_gt, results, args.iou_types, category_ids, args.backend
        )
    except (FileNotFoundError, ImportError, KeyError, ValueError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 1
    print(summary)
    for iou_type, values in stats.items():
        print(iou_type, " ".join(f"{name}={value:.4f}" for name, value in values.items()))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
