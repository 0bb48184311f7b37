"""Shapes and behaviour of the YOLACT components: ResNet, FPN, priors, head, protonet."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from panoptic.models.backbones.resnet import ResNet
from panoptic.models.heads.prior_generator import YolactPriorGenerator
from panoptic.models.heads.protonet import Protonet
from panoptic.models.heads.yolact_head import YolactHead
from panoptic.models.necks.yolact_fpn import YolactFPN
from panoptic.structures.box_ops import box_iou, decode_boxes, encode_boxes

SCALES = [[24], [48], [96], [192], [384]]
RATIOS = [[1, 0.5, 2]] * 5


def small_head(num_classes: int = 3, num_prototypes: int = 4) -> YolactHead:
    return YolactHead(
        in_channels=8,
        feat_channels=8,
        num_classes=num_classes,
        num_prototypes=num_prototypes,
        prior_scales=SCALES,
        prior_aspect_ratios=RATIOS,
        prior_base_size=550,
    )


@pytest.mark.parametrize(("depth", "channels"), [(18, [128, 256, 512]), (50, [512, 1024, 2048])])
def test_resnet_stage_shapes(depth: int, channels: list[int]) -> None:
    backbone = ResNet(depth=depth, out_indices=(1, 2, 3))
    features = backbone(torch.randn(1, 3, 64, 96))
    assert list(features) == ["c3", "c4", "c5"]
    assert [f.shape[1] for f in features.values()] == channels
    assert [tuple(f.shape[2:]) for f in features.values()] == [(8, 12), (4, 6), (2, 3)]
    assert backbone.out_channels[1:] == channels


def test_resnet_frozen_stages_and_norm_eval() -> None:
    backbone = ResNet(depth=18, frozen_stages=1, norm_eval=True).train()
    assert not any(p.requires_grad for p in backbone.conv1.parameters())
    assert not any(p.requires_grad for p in backbone.layer1.parameters())
    assert backbone.layer2[0].conv1.weight.requires_grad
    assert all(not m.training for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))
    running_mean = backbone.layer3[0].bn1.running_mean.clone()
    backbone(torch.randn(2, 3, 64, 64))
    assert torch.equal(backbone.layer3[0].bn1.running_mean, running_mean)


def test_resnet_loads_torchvision_checkpoint(tmp_path: Path) -> None:
    reference = torchvision.models.resnet18(weights=None).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    backbone = ResNet(depth=18, out_indices=(3,), checkpoint=str(path)).eval()
    images = torch.randn(1, 3, 64, 64)
    trunk = torch.nn.Sequential(*list(reference.children())[:-2])
    torch.testing.assert_close(backbone(images)["c5"], trunk(images), rtol=0, atol=0)
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        ResNet(depth=18, checkpoint=str(tmp_path / "missing.pth"))


def test_fpn_levels() -> None:
    fpn = YolactFPN(in_channels=[8, 16, 32], out_channels=4)
    features = {
        "c3": torch.randn(2, 8, 69, 69),
        "c4": torch.randn(2, 16, 35, 35),
        "c5": torch.randn(2, 32, 18, 18),
    }
    pyramid = fpn(features)
    assert list(pyramid) == ["p3", "p4", "p5", "p6", "p7"]
    assert [tuple(p.shape[2:]) for p in pyramid.values()] == [
        (69, 69), (35, 35), (18, 18), (9, 9), (5, 5)
    ]  # fmt: skip
    # The smoothing convs end with a ReLU; the extra levels do not.
    assert all((pyramid[name] >= 0).all() for name in ("p3", "p4", "p5"))
    assert (pyramid["p7"] < 0).any()


def test_priors_follow_the_authors_square_quirk() -> None:
    generator = YolactPriorGenerator(SCALES, RATIOS, base_size=550, square=True)
    sizes = [(69, 69), (35, 35), (18, 18), (9, 9), (5, 5)]
    priors = generator(sizes, torch.device("cpu"))
    assert priors.shape == (19248, 4)
    # First cell of P3: three square priors of widths 24 * sqrt(ar) / 550.
    expected_w = torch.tensor([24.0, 24 * 0.5**0.5, 24 * 2**0.5]) / 550
    torch.testing.assert_close(priors[:3, 2], expected_w)
    torch.testing.assert_close(priors[:3, 3], priors[:3, 2])
    torch.testing.assert_close(priors[0, :2], torch.tensor([0.5 / 69, 0.5 / 69]))
    # Row-major cells: the fourth prior is one column to the right.
    torch.testing.assert_close(priors[3, :2], torch.tensor([1.5 / 69, 0.5 / 69]))
    rectangular = YolactPriorGenerator(SCALES, RATIOS, base_size=550, square=False)
    non_square = rectangular(sizes, torch.device("cpu"))
    assert non_square[1, 3] > non_square[1, 2]


def test_head_and_protonet_shapes() -> None:
    head = small_head().eval()
    sizes = [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    features = {f"p{i + 3}": torch.randn(2, 8, h, w) for i, (h, w) in enumerate(sizes)}
    outputs = head(features)
    num_priors = 3 * sum(h * w for h, w in sizes)
    assert outputs["loc"].shape == (2, num_priors, 4)
    assert outputs["cls_logits"].shape == (2, num_priors, 4)
    assert outputs["coeffs"].shape == (2, num_priors, 4)
    assert outputs["coeffs"].abs().max() <= 1
    assert outputs["priors"].shape == (num_priors, 4)
    assert "sem_logits" not in outputs
    assert head.train()(features)["sem_logits"].shape == (2, 3, 16, 16)
    protos = Protonet(in_channels=8, channels=8, num_prototypes=5)(features["p3"])
    assert protos.shape == (2, 32, 32, 5)
    assert (protos >= 0).all()


def test_box_coding_round_trip_and_iou() -> None:
    priors = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.3, 0.6, 0.1, 0.4]])
    boxes = torch.tensor([[0.35, 0.4, 0.6, 0.7], [0.2, 0.3, 0.45, 0.9]])
    torch.testing.assert_close(decode_boxes(encode_boxes(boxes, priors), priors), boxes)
    iou = box_iou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]]))
    torch.testing.assert_close(iou, torch.tensor([[1 / 7]]))


def test_fold_batch_norm_keeps_outputs() -> None:
    backbone = ResNet(depth=18, out_indices=(1, 2, 3)).eval()
    for module in backbone.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = backbone(images)
        backbone.fold_batch_norm()
        folded = backbone(images)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.modules())
    for name in expected:
        torch.testing.assert_close(folded[name], expected[name], rtol=1e-4, atol=1e-4)
