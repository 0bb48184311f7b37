"""Time the PQ evaluators against panopticapi's ``pq_compute`` on 1,000 images.

Replicates the real COCO sample (tests/data/coco_panoptic_sample: two val2017
images, 640x427 and 640x360) to ``--images`` ground-truth PNGs, writes a
perturbed prediction for each (segments kept, dropped, relabelled, shifted,
cut and split, false-positive blobs) and times, in one run:

- ``panopticapi``: ``panopticapi.evaluation.pq_compute`` with ``--workers``
  processes (its pool size is ``multiprocessing.cpu_count()``, set here to
  ``--workers`` for the call);
- ``files``: :func:`panoptic.evaluation.pq_files.evaluate_panoptic_files` with
  the same number of processes (the ``tools/eval_panoptic.py`` path);
- ``hotcoco``: hotcoco's ``pq_compute`` (Rust; its own thread count), for
  scale, when hotcoco is installed; its numbers are compared with
  panopticapi's on the counted categories and the largest difference is
  reported, not required to be 0;
- ``decode``: reading and decoding the two PNGs of every image alone, with the
  evaluator's decoder (:mod:`panoptic.evaluation.png` when numba is
  installed), with imagecodecs' libpng and with OpenCV, in one process: the
  floor of any file-based evaluator built on that decoder;
- ``in-memory``: the streaming core (:func:`panoptic.evaluation.pq.pq_image` +
  :class:`PQAccumulator`) on int32 id maps already in memory, as
  ``CocoPanopticMetric`` runs it during validation: with one rank and with
  ``--workers`` ranks, each a process that decodes its share first and then
  times only the matching (see :func:`run_in_memory`).

The file evaluators and the decoders are timed first, interleaved over the
repeats, from a lean parent process; the in-memory ranks after them. Every
timing is the median of ``--repeats`` runs, as wall time and as
CPU time of all processes involved (this process plus its reaped workers): on
a machine shared with other jobs the wall times of parallel runs depend on the
load, CPU time measures the work. The results must be equal
(PQ to 1e-12 and every per-category count), else the script fails.

Example::

    python tools/benchmark_eval.py --images 1000 --workers 2 --out bench.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from panopticapi import evaluation as panopticapi_eval
from tqdm import tqdm

from panoptic.evaluation import instance_metric, pq_files
from panoptic.evaluation.coco_writers import CocoPanopticWriter
from panoptic.evaluation.pq import PQAccumulator, pq_image
from panoptic.evaluation.pq_files import (
    default_png_decoder,
    evaluate_panoptic_files,
    read_panoptic_ids,
    single_threaded_opencv,
)

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "coco_panoptic_sample"


def perturb(
    gt_map: np.ndarray,
    segments: list[dict[str, Any]],
    category_ids: list[int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A plausible prediction from the ground truth of one image."""
    H, W = gt_map.shape
    pred = np.zeros((H, W), dtype=np.int32)
    pred_segments: list[dict[str, Any]] = []
    for segment in segments:
        action = rng.random()
        if action < 0.15:
            continue
        mask = gt_map == segment["id"]
        category = int(segment["category_id"])
        if action < 0.2:
            category = int(rng.choice(category_ids))
        elif action < 0.5:
            mask = np.roll(mask, tuple(rng.integers(-12, 13, size=2)), axis=(0, 1))
        elif action < 0.6:
            cols = np.nonzero(mask)[1]
            if cols.size:
                left = mask & (np.arange(W) < int(np.median(cols)))[None, :]
                pred_segments.append({"id": len(pred_segments) + 1, "category_id": category})
                pred[left] = len(pred_segments)
                mask = mask & ~left
        pred_segments.append({"id": len(pred_segments) + 1, "category_id": category})
        pred[mask] = len(pred_segments)
    for _ in range(int(rng.integers(0, 3))):
        y, x = int(rng.integers(0, H - 20)), int(rng.integers(0, W - 20))
        pred_segments.append(
            {"id": len(pred_segments) + 1, "category_id": int(rng.choice(category_ids))}
        )
        pred[y : y + int(rng.integers(10, 60)), x : x + int(rng.integers(10, 60))] = len(
            pred_segments
        )
    present = set(np.unique(pred).tolist())
    return pred, [s for s in pred_segments if s["id"] in present]


def build_dataset(root: Path, num_images: int, seed: int) -> dict[str, Any]:
    """Write ``gt/``, ``gt.json``, ``panoptic_pred/`` and ``panoptic_pred.json`` under root.

    Returns:
        The paths and the categories.
    """
    sample = json.loads((SAMPLE_DIR / "panoptic_examples.json").read_text())
    categories = sample["categories"]
    category_ids = [c["id"] for c in categories]
    maps = [
        read_panoptic_ids(SAMPLE_DIR / "panoptic_examples" / a["file_name"]).astype(np.int32)
        for a in sample["annotations"]
    ]
    gt_dir = root / "gt"
    gt_dir.mkdir(parents=True)
    writer = CocoPanopticWriter(root, categories, "panoptic_pred", seed=seed)
    rng = np.random.default_rng(seed)
    annotations = []
    for k in tqdm(range(num_images), desc="writing images"):
        source = sample["annotations"][k % len(maps)]
        gt_map = maps[k % len(maps)]
        name = f"{k:012d}.png"
        shutil.copyfile(SAMPLE_DIR / "panoptic_examples" / source["file_name"], gt_dir / name)
        annotations.append({**source, "image_id": k, "file_name": name})
        pred_map, pred_segments = perturb(gt_map, source["segments_info"], category_ids, rng)
        writer.add(k, pred_map, pred_segments, name)
    writer.write_json()
    gt_json = root / "gt.json"
    gt_json.write_text(json.dumps({**sample, "annotations": annotations}))
    return {
        "gt_json": gt_json,
        "gt_dir": gt_dir,
        "pred_json": writer.json_path,
        "pred_dir": writer.png_dir,
        "categories": categories,
    }


def run_panopticapi(data: dict[str, Any], workers: int) -> dict[str, Any]:
    """``pq_compute`` with ``workers`` processes; its pool is closed afterwards."""
    original_count, original_pool = multiprocessing.cpu_count, multiprocessing.Pool
    pools: list[Any] = []

    def recording_pool(*args: Any, **kwargs: Any) -> Any:
        pools.append(original_pool(*args, **kwargs))
        return pools[-1]

    # pq_compute sizes its pool with cpu_count() and leaves it open.
    multiprocessing.cpu_count = lambda: workers
    multiprocessing.Pool = recording_pool  # type: ignore[assignment]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return panopticapi_eval.pq_compute(
                str(data["gt_json"]),
                str(data["pred_json"]),
                str(data["gt_dir"]),
                str(data["pred_dir"]),
            )
    finally:
        multiprocessing.cpu_count = original_count
        multiprocessing.Pool = original_pool  # type: ignore[assignment]
        for pool in pools:
            pool.terminate()
            pool.join()


def run_hotcoco(data: dict[str, Any], workers: int) -> dict[str, Any]:
    """hotcoco's drop-in ``pq_compute`` (Rust), for scale; it picks its own threads."""
    with contextlib.redirect_stdout(io.StringIO()):
        results = instance_metric.hotcoco.panoptic.pq_compute(
            str(data["gt_json"]), str(data["pred_json"]), str(data["gt_dir"]), str(data["pred_dir"])
        )
    results["per_class"] = {int(k): v for k, v in results["per_class"].items()}
    return results


def largest_difference(theirs: dict[str, Any], ref: dict[str, Any]) -> float:
    """The largest |difference| of PQ / SQ / RQ over the splits and the counted categories
    (hotcoco reports -1 where a category has no TP, FP or FN; panopticapi reports 0)."""
    rows = [(theirs[s], ref[s]) for s in ("All", "Things", "Stuff")]
    for category_id, row in ref["per_class"].items():
        other = theirs["per_class"][category_id]
        if other["tp"] + other["fp"] + other["fn"] > 0:
            rows.append((other, row))
    return max(abs(a[key] - b[key]) for a, b in rows for key in ("pq", "sq", "rq"))


def run_files(data: dict[str, Any], workers: int) -> dict[str, Any]:
    results, _ = evaluate_panoptic_files(
        data["gt_json"],
        data["gt_dir"],
        data["pred_json"],
        data["pred_dir"],
        workers,
        progress=False,
    )
    return results


def _decode_with(data: dict[str, Any], decoder: str | None) -> None:
    """Read and decode the two PNGs of every image in this process, as the evaluator's
    workers do (OpenCV single-threaded)."""
    with single_threaded_opencv():
        for annotation in json.loads(Path(data["gt_json"]).read_text())["annotations"]:
            read_panoptic_ids(Path(data["gt_dir"]) / annotation["file_name"], decoder=decoder)
            read_panoptic_ids(Path(data["pred_dir"]) / annotation["file_name"], decoder=decoder)


def run_decode(data: dict[str, Any], workers: int) -> None:
    """Read and decode the two PNGs of every image with the evaluator's decoder, one process."""
    _decode_with(data, None)


def run_decode_imagecodecs(data: dict[str, Any], workers: int) -> None:
    """The same with imagecodecs' libpng, for scale."""
    _decode_with(data, "imagecodecs")


def run_decode_opencv(data: dict[str, Any], workers: int) -> None:
    """The same with OpenCV's decoder, for scale."""
    _decode_with(data, "opencv")


@dataclass
class Timed:
    """A run that timed itself: wall and CPU seconds of the measured part only."""

    wall: float
    cpu: float
    result: Any


def _rank(rank: int, workers: int, data: dict[str, Any], barrier: Any, queue: Any) -> None:
    """One rank of the in-memory run: decode its share, wait for all, time the matching."""
    gt = json.loads(Path(data["gt_json"]).read_text())["annotations"]
    pred = json.loads(Path(data["pred_json"]).read_text())["annotations"]
    part = np.array_split(np.arange(len(gt)), workers)[rank]
    memory = [
        (
            read_panoptic_ids(Path(data["gt_dir"]) / gt[k]["file_name"]).astype(np.int32),
            gt[k]["segments_info"],
            read_panoptic_ids(Path(data["pred_dir"]) / pred[k]["file_name"]).astype(np.int32),
            pred[k]["segments_info"],
        )
        for k in part
    ]
    category_ids = frozenset(c["id"] for c in data["categories"])
    barrier.wait()
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    images = [pq_image(*maps, category_ids, int(k)) for maps, k in zip(memory, part)]
    wall_end, cpu = time.perf_counter(), time.process_time() - cpu_start
    queue.put((rank, wall_start, wall_end, cpu, images))


def run_in_memory(data: dict[str, Any], workers: int) -> Timed:
    """The streaming core on id maps already in memory, as ``workers`` ranks run it.

    Each rank is a process that decodes its share of the images to int32 id
    maps (as a model would hand them over), waits for the others, then matches
    them with :func:`pq_image`; only the matching is timed: wall time from the
    first rank's start to the last rank's end, CPU time summed over ranks. The
    parent adds the ranks' counts in rank order, as the metric's merge does.
    """
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=_rank, args=(rank, workers, data, barrier, queue))
        for rank in range(workers)
    ]
    for process in processes:
        process.start()
    reports = sorted(queue.get() for _ in processes)
    for process in processes:
        process.join()
    accumulator = PQAccumulator(data["categories"])
    for *_, images in reports:
        for image in images:
            accumulator.add(image)
    wall = max(r[2] for r in reports) - min(r[1] for r in reports)
    return Timed(wall, sum(r[3] for r in reports), accumulator.results())


def cpu_seconds() -> float:
    """CPU time of this process and of its finished (reaped) child processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure(
    run: Callable[[dict[str, Any], int], Any], data: dict[str, Any], workers: int
) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds (all processes) and the result of one run."""
    cpu_start, wall_start = cpu_seconds(), time.perf_counter()
    result = run(data, workers)
    wall = time.perf_counter() - wall_start
    if isinstance(result, Timed):
        return result.wall, result.cpu, result.result
    return wall, cpu_seconds() - cpu_start, result


def check_equal(ours: dict[str, Any], ref: dict[str, Any], what: str) -> None:
    for split in ("All", "Things", "Stuff"):
        for key in ("pq", "sq", "rq"):
            if abs(ours[split][key] - ref[split][key]) > 1e-12:
                raise AssertionError(
                    f"{what}: {split} {key} {ours[split][key]} != {ref[split][key]}"
                )
    for category_id, row in ref["per_class"].items():
        for key in ("pq", "sq", "rq"):
            if abs(ours["per_class"][category_id][key] - row[key]) > 1e-12:
                raise AssertionError(f"{what}: category {category_id} {key} differs")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time PQ evaluation (files and in memory) against panopticapi's pq_compute "
        "on the COCO sample replicated to many images with perturbed predictions."
    )
    parser.add_argument("--images", type=int, default=1000, help="number of images (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="processes for both file evaluators")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (median)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbations")
    parser.add_argument(
        "--work-dir", default=None, help="where to write the data (default: a temp dir)"
    )
    parser.add_argument("--out", default=None, help="write the timings here as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="bench_eval_"))
    if (root / "gt").exists():
        print(f"error: {root / 'gt'} already exists; pass an empty --work-dir", file=sys.stderr)
        return 2
    data = build_dataset(root, args.images, args.seed)
    # Two phases, each interleaving its methods over the repeats: the file
    # evaluators first, then the in-memory ranks (which decode their images in
    # their own processes, so this process stays as lean as tools/eval_panoptic.py).
    phases = [
        {
            "panopticapi": (run_panopticapi, args.workers),
            "files": (run_files, args.workers),
            "hotcoco": (run_hotcoco, args.workers),
            "decode": (run_decode, 1),
            "decode_imagecodecs": (run_decode_imagecodecs, 1),
            "decode_opencv": (run_decode_opencv, 1),
        },
        {
            "in_memory": (run_in_memory, 1),
            "in_memory_parallel": (run_in_memory, args.workers),
        },
    ]
    if pq_files.imagecodecs is None:
        del phases[0]["decode_imagecodecs"]
    if instance_metric.hotcoco is None:
        del phases[0]["hotcoco"]
    hotcoco_difference = 0.0
    names = [name for phase in phases for name in phase]
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    with tqdm(total=args.repeats * len(names), desc="timing") as bar:
        for methods in phases:
            for _ in range(args.repeats):
                for name, (run, workers) in methods.items():
                    seconds, cpu_seconds_used, result = measure(run, data, workers)
                    wall[name].append(seconds)
                    cpu[name].append(cpu_seconds_used)
                    if name == "panopticapi":
                        ref = result
                    elif name == "hotcoco":
                        hotcoco_difference = max(
                            hotcoco_difference, largest_difference(result, ref)
                        )
                    elif not name.startswith("decode"):
                        check_equal(result, ref, name)
                    bar.update()
    wall_ms = {k: 1000 * statistics.median(v) / args.images for k, v in wall.items()}
    cpu_ms = {k: 1000 * statistics.median(v) / args.images for k, v in cpu.items()}
    report = {
        "images": args.images,
        "workers": args.workers,
        "repeats": args.repeats,
        "wall_ms_per_image": wall_ms,
        "cpu_ms_per_image": cpu_ms,
        "pq_all": ref["All"]["pq"],
    }
    print(f"{args.images} images, {args.workers} processes, median of {args.repeats} runs")
    print(f"{'':50s}{'wall ms/img':>12s}{'speed-up':>10s}{'CPU ms/img':>12s}{'speed-up':>10s}")
    labels = {
        "panopticapi": f"panopticapi pq_compute, {args.workers} proc.",
        "files": f"ours, files, {args.workers} proc.",
        "hotcoco": "hotcoco pq_compute (Rust), for scale",
        "decode": f"reading + decoding alone ({default_png_decoder()}), 1 proc.",
        "decode_imagecodecs": "the same with imagecodecs (libpng), 1 proc.",
        "decode_opencv": "the same with OpenCV, 1 proc.",
        "in_memory": "ours, in memory, 1 proc.",
        "in_memory_parallel": f"ours, in memory, {args.workers} proc.",
    }
    for name, label in labels.items():
        if name not in wall_ms:
            continue
        wall_x = wall_ms["panopticapi"] / wall_ms[name]
        cpu_x = cpu_ms["panopticapi"] / cpu_ms[name]
        print(f"  {label:48s}{wall_ms[name]:12.3f}{wall_x:9.2f}x{cpu_ms[name]:12.3f}{cpu_x:9.2f}x")
        report[f"speedup_wall_{name}"] = wall_x
        report[f"speedup_cpu_{name}"] = cpu_x
    print(f"  PQ (All) {100 * ref['All']['pq']:.3f}, equal to panopticapi's")
    if "hotcoco" in wall_ms:
        print(
            f"  hotcoco's PQ / SQ / RQ differ from panopticapi's by up to {hotcoco_difference:.1e}"
        )
        report["hotcoco_largest_difference"] = hotcoco_difference
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    if not args.work_dir:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
