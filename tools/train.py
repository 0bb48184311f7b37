"""Train a model from a config with mmengine's Runner.

Examples::

    # one process (CPU or one GPU)
    python tools/train.py configs/panoptic/yolact_upsnet_r18_synthetic.py
    # continue after an interruption (latest complete checkpoint of the work dir)
    python tools/train.py configs/panoptic/yolact_upsnet_r18_synthetic.py --resume
    # 4 processes on this machine (GPUs, or CPU processes over gloo)
    bash tools/dist_train.sh configs/panoptic/yolact_upsnet_r18_synthetic.py 4

See docs/training.md for several machines, Slurm, precision and the demo.
"""

from __future__ import annotations

import argparse
import sys

from mmengine.config import DictAction

from panoptic.engine.config_check import ConfigError
from panoptic.engine.launcher import LAUNCHERS
from panoptic.engine.precision import PRECISIONS
from panoptic.engine.training import prepare_train_config, train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Train a model described by a python config. Checkpoints, logs and TensorBoard "
            "events go to the work dir; validation runs as the config's schedule says."
        )
    )
    parser.add_argument("config", help="config file, e.g. configs/panoptic/....py")
    parser.add_argument(
        "--work-dir", help="output folder (default: work_dirs/<config name> or cfg.work_dir)"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="CKPT",
        help="resume training: without a value from the work dir's last complete checkpoint, "
        "or from the given checkpoint file (weights, optimizer, schedule, iteration, RNG)",
    )
    parser.add_argument(
        "--amp", action="store_true", help="mixed precision: shorthand for --precision bf16"
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="fp32, or bf16 autocast (falls back to fp32 where the device lacks bf16); "
        "default: what the config says",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (overrides config)")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="use deterministic algorithms so that a run can be reproduced exactly (slower)",
    )
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        default={},
        help="override config values, e.g. train_cfg.max_iters=100 optim_wrapper.optimizer.lr=0.01",
    )
    parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="none",
        help="none: one process; pytorch: started by torchrun (tools/dist_train.sh); "
        "slurm: started by srun (tools/slurm_train.sh)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    precision = "bf16" if args.amp else args.precision
    if args.amp and args.precision == "fp32":
        print("error: --amp and --precision fp32 contradict each other", file=sys.stderr)
        return 2
    try:
        cfg = prepare_train_config(
            args.config,
            work_dir=args.work_dir,
            resume=args.resume,
            precision=precision,
            cfg_options=args.cfg_options,
            launcher=args.launcher,
            seed=args.seed,
            deterministic=args.deterministic,
        )
    except (FileNotFoundError, ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    train(cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
