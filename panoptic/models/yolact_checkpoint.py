"""Conversion of checkpoints released by the YOLACT authors (dbolya/yolact) to our layout.

The authors' state dict names its parts ``backbone.layers.*``, ``fpn.lat_layers.*``,
``fpn.pred_layers.*``, ``fpn.downsample_layers.*``, ``proto_net.*``,
``prediction_layers.0.*`` and ``semantic_seg_conv.*``; ours follows the
:class:`~panoptic.models.yolact.Yolact` attributes (torchvision names in the backbone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

AUTHORS_KEY_PREFIXES = ("backbone.layers.", "fpn.", "proto_net.", "prediction_layers.")

# The authors' FPN lists its lateral and smoothing convs coarsest first (C5, C4, C3);
# ours lists them finest first.
_NUM_FPN_INPUTS = 3
_PROTO_NET = {
    "0": "convs.0",
    "2": "convs.1",
    "4": "convs.2",
    "8": "upsampled_conv",
    "10": "proto_conv",
}
_HEAD = {
    "upfeature.0": "extra_conv",
    "bbox_layer": "box_conv",
    "conf_layer": "cls_conv",
    "mask_layer": "coeff_conv",
}


def convert_key(key: str) -> str:
    """Map one key of the authors' state dict to ours.

    Args:
        key: e.g. ``"backbone.layers.2.5.conv1.weight"``.

    Returns:
        e.g. ``"backbone.layer3.5.conv1.weight"``.

    Raises:
        KeyError: for a key the authors' R18-R101 YOLACT models do not have.
    """
    if match := re.fullmatch(r"backbone\.layers\.(\d+)\.(.+)", key):
        return f"backbone.layer{int(match[1]) + 1}.{match[2]}"
    if re.fullmatch(r"backbone\.(conv1|bn1)\..+", key):
        return key
    if match := re.fullmatch(r"fpn\.(lat_layers|pred_layers)\.(\d)\.(weight|bias)", key):
        group = "lateral_convs" if match[1] == "lat_layers" else "smooth_convs"
        return f"neck.{group}.{_NUM_FPN_INPUTS - 1 - int(match[2])}.{match[3]}"
    if match := re.fullmatch(r"fpn\.downsample_layers\.(\d)\.(weight|bias)", key):
        return f"neck.extra_convs.{match[1]}.{match[2]}"
    if (match := re.fullmatch(r"proto_net\.(\d+)\.(weight|bias)", key)) and match[1] in _PROTO_NET:
        return f"protonet.{_PROTO_NET[match[1]]}.{match[2]}"
    match = re.fullmatch(r"prediction_layers\.0\.(.+)\.(weight|bias)", key)
    if match and match[1] in _HEAD:
        return f"instance_head.{_HEAD[match[1]]}.{match[2]}"
    if match := re.fullmatch(r"semantic_seg_conv\.(weight|bias)", key):
        return f"instance_head.semantic_conv.{match[1]}"
    raise KeyError(f"unknown key in the authors' YOLACT checkpoint: {key!r}")


def convert_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Convert a whole state dict of the authors' YOLACT to our key layout.

    Args:
        state: the authors' ``state_dict()``.

    Returns:
        A new dict with our keys, in the source order; tensors are shared.
    """
    return {convert_key(key): value for key, value in state.items()}


def is_authors_layout(state: Mapping[str, Tensor]) -> bool:
    """Whether a state dict uses the authors' key layout."""
    return any(key.startswith(AUTHORS_KEY_PREFIXES) for key in state)


def convert_checkpoint(src: str | Path, dst: str | Path) -> dict[str, Tensor]:
    """Read the authors' checkpoint at ``src``, write ours to ``dst``.

    Args:
        src: the authors' ``.pth`` (a state dict).
        dst: where to write ``{"state_dict": ..., "meta": {"converted_from": src}}``.

    Returns:
        The converted state dict.

    Raises:
        FileNotFoundError: if ``src`` does not exist.
        KeyError: naming the first key that has no counterpart.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"source checkpoint not found: {src}")
    state = torch.load(src, map_location="cpu", weights_only=True)
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    converted = convert_state_dict(state)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": converted, "meta": {"converted_from": src.name}}, dst)
    return converted
