"""Convert a checkpoint of the authors' YOLACT (dbolya/yolact) to this project's layout.

Usage:
    python tools/convert_yolact_checkpoint.py yolact_resnet50_54_800000.pth yolact_r50.pth

The source is a plain state dict as released by the authors (``backbone.layers.*``,
``fpn.lat_layers.*``, ``proto_net.*``, ``prediction_layers.0.*``,
``semantic_seg_conv.*``). The result is ``{"state_dict": ..., "meta": ...}``, loadable
with ``panoptic.apis.init_model(config, checkpoint=DST)``.
"""

from __future__ import annotations

import argparse
import sys

from panoptic.models.yolact_checkpoint import convert_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Convert a checkpoint released by the YOLACT authors (dbolya/yolact, "
        "e.g. yolact_resnet50_54_800000.pth) into this project's layout, so that "
        "panoptic.apis.init_model(config, checkpoint=DST) loads it.",
    )
    parser.add_argument("src", help="the authors' checkpoint (.pth state dict)")
    parser.add_argument("dst", help="where to write the converted checkpoint")
    args = parser.parse_args(argv)
    try:
        converted = convert_checkpoint(args.src, args.dst)
    except (FileNotFoundError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"converted {len(converted)} tensors: {args.src} -> {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
