"""Time the Triton kernels of panoptic.ops against their PyTorch references.

On a CUDA machine both backends run at YOLACT's sizes (Fast NMS: 80 classes x top 200 boxes;
mask assembly: 100 masks from 138x138x32 prototypes, at prototype resolution and thresholded at
550x550 and 1920x1080) and the table gives milliseconds (``triton.testing.do_bench``, median),
the speed-up and the achieved bandwidth (bytes on paper / time). Without CUDA only the
references are timed on the CPU.

Example::

    python tools/benchmark_ops.py                 # CUDA if available, else CPU references
    python tools/benchmark_ops.py --num-masks 50 --out-sizes 720x1280
"""

from __future__ import annotations

import argparse
import sys

import torch

from panoptic.ops.benchmark import BenchmarkResult, run_benchmarks


def parse_size(text: str) -> tuple[int, int]:
    """``"HxW"`` -> ``(H, W)``."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1080x1920, got {text!r}") from None
    if height <= 0 or width <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return height, width


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark the Fast NMS and mask-assembly kernels against their PyTorch references "
            "(kernel timings need a CUDA GPU; on the CPU only the references are timed)."
        )
    )
    parser.add_argument(
        "--device", default="auto", help="'auto' (CUDA when available), 'cuda' or 'cpu'"
    )
    parser.add_argument("--num-classes", type=int, default=80, help="Fast NMS classes")
    parser.add_argument(
        "--num-boxes", type=int, default=1000, help="boxes entering Fast NMS (after conf filter)"
    )
    parser.add_argument("--top-k", type=int, default=200, help="Fast NMS candidates per class")
    parser.add_argument("--num-masks", type=int, default=100, help="masks to assemble")
    parser.add_argument("--proto-size", type=int, default=138, help="prototype height = width")
    parser.add_argument("--num-protos", type=int, default=32, help="prototypes (coefficients)")
    parser.add_argument(
        "--out-sizes",
        type=parse_size,
        nargs="+",
        default=[(550, 550), (1080, 1920)],
        help="image sizes HxW for thresholded masks, e.g. 550x550 1080x1920",
    )
    parser.add_argument("--repeats", type=int, default=5, help="CPU timing repeats (median)")
    return parser.parse_args(argv)


def format_table(results: list[BenchmarkResult]) -> str:
    header = (
        f"{'case':<52} {'ref ms':>9} {'ref GB/s':>9} {'kernel ms':>10} {'kernel GB/s':>12} "
        f"{'speed-up':>9} {'MB ref/kernel':>15}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        kernel_ms = "-" if result.kernel_ms is None else f"{result.kernel_ms:.3f}"
        kernel_bw = result.bandwidth_gbs("kernel")
        speedup = result.speedup
        lines.append(
            f"{result.name:<52} {result.reference_ms:>9.3f} "
            f"{result.bandwidth_gbs('reference'):>9.1f} {kernel_ms:>10} "
            f"{'-' if kernel_bw is None else f'{kernel_bw:.1f}':>12} "
            f"{'-' if speedup is None else f'{speedup:.2f}x':>9} "
            f"{result.reference_bytes / 1e6:>7.1f}/{result.kernel_bytes / 1e6:<7.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif args.device in ("cuda", "cpu"):
        device = torch.device(args.device)
    else:
        print(f"error: --device must be auto, cuda or cpu, got {args.device!r}", file=sys.stderr)
        return 2
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda requested but CUDA is not available", file=sys.stderr)
        return 2
    results = run_benchmarks(
        device,
        num_classes=args.num_classes,
        num_boxes=args.num_boxes,
        top_k=args.top_k,
        num_masks=args.num_masks,
        proto_size=args.proto_size,
        num_protos=args.num_protos,
        out_sizes=tuple(args.out_sizes),
        repeats=args.repeats,
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}")
    print(format_table(results))
    if device.type != "cuda":
        print(
            "\nOnly the PyTorch references were timed. Kernel timings need a GPU: run this "
            "script on a CUDA machine (the Triton interpreter on the CPU checks correctness, "
            "not speed)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
