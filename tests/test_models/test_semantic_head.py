"""SemanticHead: shapes, label sampling, loss and gradients."""

from __future__ import annotations

import torch
from mmengine.structures import PixelData

from panoptic.models.heads.semantic_head import SemanticHead, sample_label_map, semantic_loss
from panoptic.structures import PanopticDataSample


def _head(num_convs: int = 1) -> SemanticHead:
    return SemanticHead(
        in_channels=8,
        feat_channels=16,
        num_convs=num_convs,
        num_thing_classes=2,
        num_stuff_classes=3,
        in_levels=("p3", "p4", "p5"),
        upsample_factor=2,
        norm_groups=4,
        ignore_index=255,
        loss_weight=0.5,
    )


def _feats(batch: int = 2, size: int = 8) -> dict[str, torch.Tensor]:
    return {
        "p3": torch.randn(batch, 8, size, size),
        "p4": torch.randn(batch, 8, size // 2, size // 2),
        "p5": torch.randn(batch, 8, size // 4, size // 4),
        "p6": torch.randn(batch, 8, size // 8, size // 8),
    }


def _sample(sem: torch.Tensor, input_size: tuple[int, int]) -> PanopticDataSample:
    sample = PanopticDataSample(metainfo=dict(batch_input_shape=input_size, img_shape=sem.shape))
    sample.gt_sem_seg = PixelData(data=sem[None])
    return sample


def test_forward_shape_is_twice_p3_with_things_then_stuff() -> None:
    logits = _head()(_feats(batch=2, size=8))
    assert logits.shape == (2, 5, 16, 16)


def test_sample_label_map_reads_cell_centres() -> None:
    labels = torch.arange(64).view(1, 8, 8)
    sampled = sample_label_map(labels, (2, 2))
    # Cell centres of a 4x4 block are at (2, 2) in input pixels.
    assert sampled.tolist() == [[[18, 22], [50, 54]]]
    assert sample_label_map(labels, (8, 8)).equal(labels)


def test_loss_uses_padded_void_and_is_weighted() -> None:
    head = _head()
    feats = _feats(batch=2, size=8)
    logits = head(feats)  # (2, 5, 16, 16), stride 4 of a 64x64 input
    full = torch.randint(0, 5, (64, 64))
    small = torch.randint(0, 5, (40, 48))
    samples = [_sample(full, (64, 64)), _sample(small, (64, 64))]
    targets = head.targets(logits, samples)
    assert targets.shape == (2, 16, 16)
    # The second image covers rows 0..39 (10 cells) and cols 0..47 (12 cells).
    assert (targets[1, 10:] == 255).all() and (targets[1, :, 12:] == 255).all()
    assert (targets[1, :10, :12] != 255).all()
    losses = head.loss(logits, samples)
    expected = 0.5 * semantic_loss(logits, targets, 255)
    torch.testing.assert_close(losses["loss_semantic"], expected)
    assert losses["loss_semantic"] > 0


def test_all_void_gives_zero_loss_and_one_class_gives_gradients() -> None:
    head = _head()
    logits = head(_feats(batch=1, size=8))
    void = _sample(torch.full((64, 64), 255), (64, 64))
    assert head.loss(logits, [void])["loss_semantic"].item() == 0.0

    one = torch.full((64, 64), 3)
    loss = head.loss(head(_feats(batch=1, size=8)), [_sample(one, (64, 64))])["loss_semantic"]
    loss.backward()
    assert loss.item() > 0
    grads = [p.grad for p in head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert head.classifier.weight.grad.abs().sum() > 0
    assert head.lateral_convs[2][0].weight.grad.abs().sum() > 0


def test_predict_is_argmax() -> None:
    logits = torch.randn(2, 5, 6, 6)
    assert _head().predict(logits).equal(logits.argmax(1))
