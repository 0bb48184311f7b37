"""The YOLACT checkpoint converter: key mapping, the CLI, errors."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from panoptic.models.yolact_checkpoint import convert_key

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "convert_yolact_checkpoint.py"


@pytest.mark.parametrize(
    ("authors", "ours"),
    [
        ("backbone.layers.2.5.conv1.weight", "backbone.layer3.5.conv1.weight"),
        ("backbone.bn1.running_var", "backbone.bn1.running_var"),
        ("fpn.lat_layers.0.weight", "neck.lateral_convs.2.weight"),
        ("fpn.pred_layers.2.bias", "neck.smooth_convs.0.bias"),
        ("fpn.downsample_layers.1.weight", "neck.extra_convs.1.weight"),
        ("proto_net.8.weight", "protonet.upsampled_conv.weight"),
        ("proto_net.10.bias", "protonet.proto_conv.bias"),
        ("prediction_layers.0.upfeature.0.weight", "instance_head.extra_conv.weight"),
        ("prediction_layers.0.conf_layer.bias", "instance_head.cls_conv.bias"),
        ("semantic_seg_conv.weight", "instance_head.semantic_conv.weight"),
    ],
)
def test_convert_key(authors: str, ours: str) -> None:
    assert convert_key(authors) == ours


def load_tool_main() -> Callable[[list[str] | None], int]:
    spec = importlib.util.spec_from_file_location("convert_yolact_checkpoint", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_cli_converts(tmp_path: Path) -> None:
    src, dst = tmp_path / "authors.pth", tmp_path / "ours.pth"
    state = {"proto_net.0.weight": torch.ones(2, 2, 3, 3), "fpn.lat_layers.1.bias": torch.ones(2)}
    torch.save(state, src)
    done = subprocess.run(
        [sys.executable, str(TOOL), str(src), str(dst)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    converted = torch.load(dst, weights_only=True)["state_dict"]
    assert set(converted) == {"protonet.convs.0.weight", "neck.lateral_convs.1.bias"}


def test_cli_names_the_bad_key_and_the_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main = load_tool_main()
    src, dst = tmp_path / "authors.pth", tmp_path / "ours.pth"
    torch.save({"proto_net.6.weight": torch.ones(1)}, src)
    assert main([str(src), str(dst)]) == 1
    assert "proto_net.6.weight" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.pth"), str(dst)]) == 1
    assert "nope.pth" in capsys.readouterr().err
    assert not dst.exists()
