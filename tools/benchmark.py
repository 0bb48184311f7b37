"""Per-stage latency, FLOPs and efficiency of a YOLACT model on one image.

Example (the authors' ResNet-50 at 550 px, bfloat16 on the CPU, 20 runs):
    python tools/benchmark.py configs/yolact/yolact_r50_fpn_550_coco.py \\
        --checkpoint yolact_r50.pth --precision bf16 --repeat 20

Prints the median (and best) seconds of each stage (preprocess, backbone, FPN,
protonet, head, NMS, assembly, and for panoptic models the semantic head and the
panoptic fusion, total), the network's FLOPs (torch's flop counter),
the machine's measured matmul throughput in the chosen precision, and the
efficiency FLOPs / throughput / total time. With ``--precision bf16`` it also runs
fp32 and reports how far the bf16 detections drift (matched box and mask IoU).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
from mmengine.config import DictAction
from tqdm import tqdm

from panoptic.apis import init_model, read_image, yolact_test_preprocess
from panoptic.benchmarking import (
    PRECISIONS,
    STAGES,
    count_flops,
    detection_drift,
    matmul_throughput,
    prepare_model,
    run_stages,
)

DEFAULT_IMAGE = (
    Path(__file__).resolve().parents[1]
    / "tests/data/coco_panoptic_sample/input_images/000000439180.jpg"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time each stage of a YOLACT model (preprocess, backbone, FPN, protonet, "
        "head, NMS, mask assembly; semantic head and panoptic fusion for panoptic models) "
        "on one image, count its FLOPs and compare with the "
        "machine's matmul throughput.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "config", help="model config, e.g. configs/yolact/yolact_r50_fpn_550_coco.py"
    )
    parser.add_argument(
        "--checkpoint", help="weights (ours or the authors' layout); default: the model's init"
    )
    parser.add_argument("--image", default=str(DEFAULT_IMAGE), help="image to run on")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="bf16 = autocast to bfloat16 with a channels-last model and input",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        help="override config values, e.g. model.panoptic_head.score_thresh=0.0",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for path, what in ((args.config, "config"), (args.image, "image")):
        if not Path(path).is_file():
            print(f"error: {what} file not found: {path}", file=sys.stderr)
            return 1
    if args.checkpoint and not Path(args.checkpoint).is_file():
        print(f"error: checkpoint file not found: {args.checkpoint}", file=sys.stderr)
        return 1
    if args.repeat < 1:
        print("error: --repeat must be at least 1", file=sys.stderr)
        return 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = init_model(args.config, args.checkpoint, device=device, cfg_options=args.cfg_options)
    image = read_image(args.image)
    preprocessor = model.cfg.model.data_preprocessor
    size = int(model.instance_head.prior_generator.base_size)
    inputs = yolact_test_preprocess(
        image, (size, size), preprocessor["mean"], preprocessor["std"], preprocessor["bgr_to_rgb"]
    ).to(device)
    flops = count_flops(model, inputs)
    precisions = ["fp32", "bf16"] if args.precision == "bf16" else ["fp32"]
    results = {}
    for precision in tqdm(precisions, desc="benchmark", disable=len(precisions) == 1):
        runner = prepare_model(copy.deepcopy(model), precision)
        results[precision] = run_stages(runner, image, precision, args.repeat, args.warmup)
    result = results[args.precision]
    throughput = matmul_throughput(args.precision, device)
    total = result.median("total")
    report = {
        "config": args.config,
        "precision": args.precision,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "image_shape": list(image.shape[:2]),
        "input_size": size,
        "repeat": args.repeat,
        "median_s": {stage: result.median(stage) for stage in STAGES},
        "best_s": {stage: result.best(stage) for stage in STAGES},
        "gflops": flops / 1e9,
        "matmul_tflops": throughput / 1e12,
        "efficiency": flops / throughput / total,
        "num_detections": len(result.instances),
    }
    if args.precision == "bf16":
        report["fp32_total_median_s"] = results["fp32"].median("total")
        report["bf16_over_fp32_time"] = total / report["fp32_total_median_s"]
        report["drift_vs_fp32"] = detection_drift(results["fp32"].instances, result.instances)
    print(
        f"{args.config}  precision={args.precision}  device={device}  "
        f"threads={report['threads']}  image={image.shape[1]}x{image.shape[0]}  input={size}"
    )
    print(f"{'stage':<12}{'median ms':>12}{'best ms':>12}")
    for stage in STAGES:
        print(f"{stage:<12}{1e3 * result.median(stage):>12.1f}{1e3 * result.best(stage):>12.1f}")
    print(
        f"FLOPs: {report['gflops']:.1f} G per image;  matmul throughput "
        f"({args.precision}): {report['matmul_tflops']:.2f} TFLOP/s;  "
        f"efficiency: {100 * report['efficiency']:.1f}%;  detections: {report['num_detections']}"
    )
    if args.precision == "bf16":
        drift = report["drift_vs_fp32"]
        print(
            f"fp32 total median: {1e3 * report['fp32_total_median_s']:.1f} ms "
            f"(bf16/fp32 = {report['bf16_over_fp32_time']:.2f});  bf16 drift vs fp32: "
            f"matched {100 * drift['matched']:.1f}%, box IoU {drift['box_iou']:.4f}, "
            f"mask IoU {drift['mask_iou']:.4f}, |score diff| {drift['score_abs_diff']:.2e}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
