"""Print a config after ``_base_`` inheritance and ``--cfg-options`` overrides.

Example::

    python tools/print_config.py configs/yolact/yolact_r50_fpn_550_coco.py \
        --cfg-options model.backbone.depth=101
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmengine.config import Config, DictAction


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Print the merged result of a python config (bases and overrides applied)."
    )
    parser.add_argument("config", help="path to a config file, e.g. configs/panoptic/....py")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        default={},
        help="override settings, e.g. model.backbone.depth=50 train_dataloader.batch_size=4",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = Path(args.config)
    if not path.is_file():
        print(f"error: config file not found: {path}", file=sys.stderr)
        return 2
    cfg = Config.fromfile(str(path))
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print(cfg.pretty_text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
