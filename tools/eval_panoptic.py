r"""Panoptic quality (PQ) of COCO panoptic prediction files, like panopticapi's ``pq_compute``.

Takes the same four inputs as ``panopticapi.evaluation.pq_compute`` and gives
the same numbers (same rules, tested for equality), several times faster.

Example::

    python tools/eval_panoptic.py \
        --gt-json data/coco/annotations/panoptic_val2017.json \
        --gt-dir data/coco/annotations/panoptic_val2017 \
        --pred-json work_dirs/test/panoptic_pred.json \
        --pred-dir work_dirs/test/panoptic_pred --workers 4 --out metrics.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from panoptic.evaluation.pq import format_pq_table, results_to_json
from panoptic.evaluation.pq_files import PNG_DECODERS, evaluate_panoptic_files


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compute PQ / SQ / RQ (All, Things, Stuff and per category) of COCO "
        "panoptic predictions (PNG folder + JSON) against COCO panoptic ground truth, with "
        "panopticapi's pq_compute rules and numbers.",
        epilog=__doc__.split("Example::")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--gt-json", required=True, help="ground-truth JSON, e.g. panoptic_val2017.json"
    )
    parser.add_argument("--gt-dir", required=True, help="folder of the ground-truth PNGs")
    parser.add_argument("--pred-json", required=True, help="prediction JSON (annotations list)")
    parser.add_argument("--pred-dir", required=True, help="folder of the predicted PNGs")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: the number of CPUs, as panopticapi uses)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="write the results here as JSON shaped like pq_compute's return value "
        '({"All": {"pq", "sq", "rq", "n"}, "Things": ..., "Stuff": ..., "per_class": ...}, '
        "PQ as fractions)",
    )
    parser.add_argument(
        "--decoder",
        choices=PNG_DECODERS,
        default=None,
        help="PNG decoder, all giving the same ids: numba (this project's reader, the fastest), "
        "imagecodecs (libpng) or opencv; default: the fastest installed",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no per-class rows")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        results, accumulator = evaluate_panoptic_files(
            args.gt_json,
            args.gt_dir,
            args.pred_json,
            args.pred_dir,
            workers=args.workers,
            progress=not args.quiet,
            decoder=args.decoder,
        )
    except (FileNotFoundError, ImportError, KeyError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 1
    categories = [] if args.quiet else accumulator.categories
    print(format_pq_table(results, categories))
    print(f"Time elapsed: {time.perf_counter() - start:.2f} s")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results_to_json(results), indent=1))
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
