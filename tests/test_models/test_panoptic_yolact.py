"""PanopticYolact end to end on the small synthetic architecture: losses, gradients, predict."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData

from panoptic.models.panoptic_yolact import PanopticYolact, matched_coefficients, pad_instances
from panoptic.registry import MODELS
from panoptic.structures import PanopticDataSample

CONFIG = Path(__file__).resolve().parents[2] / "configs/_base_/models/yolact_upsnet_r18_fpn.py"
SIZE = 96


def _model() -> PanopticYolact:
    cfg = Config.fromfile(str(CONFIG))
    # Inputs here are already normalised tensors: skip the image preprocessing.
    cfg.model.data_preprocessor = dict(type="BaseDataPreprocessor")
    cfg.model.instance_head.prior_base_size = SIZE
    return MODELS.build(cfg.model)


def _sample(seed: int, num_things: int = 3) -> PanopticDataSample:
    """Squares of thing classes on two stuff bands (stuff labels 4 and 5)."""
    g = torch.Generator().manual_seed(seed)
    sem = torch.full((SIZE, SIZE), 4)
    sem[SIZE // 2 :] = 5
    taken = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    boxes, masks, labels = [], [], []
    for n in range(num_things):
        x, y = torch.randint(0, SIZE - 30, (2,), generator=g).tolist()
        side = int(torch.randint(12, 28, (1,), generator=g))
        mask = torch.zeros(SIZE, SIZE, dtype=torch.bool)
        mask[y : y + side, x : x + side] = True
        mask &= ~taken
        taken |= mask
        ys, xs = torch.nonzero(mask, as_tuple=True)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        masks.append(mask)
        labels.append(n % 4)
        sem[mask] = n % 4
    sample = PanopticDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
    sample.gt_instances = InstanceData(
        boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long),
        masks=torch.stack(masks) if masks else torch.zeros(0, SIZE, SIZE, dtype=torch.bool),
        iscrowd=torch.zeros(num_things, dtype=torch.bool),
    )
    sample.gt_sem_seg = PixelData(data=sem[None])
    return sample


def _images(samples: list[PanopticDataSample]) -> torch.Tensor:
    """Images whose colour encodes the semantic label, so a few steps can fit them."""
    sem = torch.stack([s.gt_sem_seg.data[0] for s in samples]).float()  # (B, H, W)
    return torch.stack([torch.cos(sem), torch.sin(sem), sem / 3 - 1], dim=1)


def test_matched_coefficients_average_positive_priors() -> None:
    coeffs = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0], [7.0, 1.0]])
    gt_index = torch.tensor([0, 0, 1, 2])
    positive = torch.tensor([True, True, False, True])
    mean, has_prior = matched_coefficients(coeffs, gt_index, positive, 3)
    assert mean.tolist() == [[2.0, 1.0], [0.0, 0.0], [7.0, 1.0]]
    assert has_prior.tolist() == [True, False, True]
    padded = pad_instances([torch.ones(2, 3), torch.ones(0, 3)], -1.0)
    assert padded.shape == (2, 2, 3) and (padded[1] == -1).all()


def test_losses_are_finite_and_panoptic_loss_reaches_the_backbone() -> None:
    model = _model().train()
    samples = [_sample(0), _sample(1, num_things=0)]
    losses = model(_images(samples), samples, mode="loss")
    assert set(losses) == {"loss_box", "loss_cls", "loss_mask", "loss_semantic", "loss_panoptic"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_panoptic"] > 0
    losses["loss_panoptic"].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.protonet.proto_conv.weight.grad.abs().sum() > 0
    assert model.instance_head.coeff_conv.weight.grad.abs().sum() > 0
    assert model.semantic_head.classifier.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_training_steps_lower_the_panoptic_loss() -> None:
    model = _model().train()
    samples = [_sample(2), _sample(3)]
    images = _images(samples)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    history = []
    for _ in range(12):
        losses = model(images, samples, mode="loss")
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        history.append(losses["loss_panoptic"].item())
    assert sum(history[-3:]) / 3 < 0.7 * sum(history[:3]) / 3


def test_predict_gives_panoptic_at_the_original_size_and_batches_like_single_images() -> None:
    model = _model().eval()
    images = _images([_sample(4), _sample(5)])
    metainfo = dict(img_shape=(SIZE, SIZE), ori_shape=(120, 150))
    with torch.no_grad():
        batched = model(
            images, [PanopticDataSample(metainfo=metainfo) for _ in range(2)], "predict"
        )
        singles = [
            model(images[i : i + 1], [PanopticDataSample(metainfo=metainfo)], "predict")[0]
            for i in range(2)
        ]
    for single, batch in zip(singles, batched):
        id_map = batch.pred_panoptic.id_map
        assert id_map.shape == (120, 150) and id_map.dtype == torch.int32
        segments = batch.pred_panoptic.segments
        assert segments, "an untrained model still labels stuff"
        assert sorted(s["id"] for s in segments) == list(range(1, len(segments) + 1))
        for segment in segments:
            assert segment["area"] == (id_map == segment["id"]).sum().item()
        assert (id_map > 0).sum().item() == sum(s["area"] for s in segments)
        agree = (single.pred_panoptic.id_map == id_map).float().mean().item()
        assert agree > 0.999
        assert "masks" in batch.pred_instances and "scores" in batch.pred_instances


def test_heuristic_fusion_is_a_drop_in_panoptic_head() -> None:
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.data_preprocessor = dict(type="BaseDataPreprocessor")
    cfg.model.instance_head.prior_base_size = SIZE
    cfg.model.instance_head.conf_thresh = 0.0
    cfg.model.panoptic_head = dict(
        type="HeuristicFusion",
        num_thing_classes=4,
        num_stuff_classes=3,
        overlap_thresh=0.5,
        score_thresh=0.0,
        min_stuff_area=0.0,
    )
    model = MODELS.build(cfg.model).eval()
    metainfo = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE))
    with torch.no_grad():
        result = model(_images([_sample(6)]), [PanopticDataSample(metainfo=metainfo)], "predict")
    segments = result[0].pred_panoptic.segments
    assert any(s["isthing"] for s in segments)
    assert (result[0].pred_panoptic.id_map > 0).sum().item() == sum(s["area"] for s in segments)


def test_benchmark_times_the_semantic_and_panoptic_stages() -> None:
    from panoptic.apis import init_model
    from panoptic.benchmarking import prepare_model, run_stages

    leaf = CONFIG.parents[2] / "panoptic/yolact_upsnet_r18_synthetic.py"
    model = init_model(
        leaf,
        cfg_options={
            "model.instance_head.conf_thresh": 0.0,
            "model.panoptic_head.score_thresh": 0.0,
        },
    )
    image = torch.randint(0, 256, (120, 150, 3), dtype=torch.uint8).numpy()
    result = run_stages(prepare_model(model, "fp32"), image, "fp32", repeat=1, warmup=0)
    assert result.times["semantic"][0] > 0 and result.times["panoptic"][0] > 0
    assert result.times["panoptic"][0] < result.times["total"][0]
