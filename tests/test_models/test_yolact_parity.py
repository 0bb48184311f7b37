"""Parity of our YOLACT with the authors' outputs (tests/data/yolact_official_r50).

The authors' state dict is rebuilt from the key list with the fixture README's rule,
converted with our converter, loaded strictly, and run on the stored input and on
the JPEG end to end.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

from panoptic.apis import inference_image, init_model
from panoptic.models.heads.yolact_postprocess import detect_instances
from panoptic.models.yolact_checkpoint import convert_state_dict
from panoptic.ops import assemble_masks
from panoptic.registry import TRANSFORMS
from panoptic.structures.box_ops import box_iou
from panoptic.structures.panoptic_data_sample import PanopticDataSample

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "yolact_official_r50"
IMAGE = ROOT / "tests" / "data" / "coco_panoptic_sample" / "input_images" / "000000439180.jpg"
R50_CONFIG = ROOT / "configs" / "yolact" / "yolact_r50_fpn_550_coco.py"
R101_CONFIG = ROOT / "configs" / "yolact" / "yolact_r101_fpn_550_coco.py"


def read_key_table(path: Path) -> list[tuple[str, tuple[int, ...]]]:
    keys = []
    for line in path.read_text().splitlines()[1:]:
        key, shape = line.split("\t")[:2]
        keys.append((key, () if shape == "scalar" else tuple(int(s) for s in shape.split("x"))))
    return keys


def official_weight(key: str, shape: tuple[int, ...], gain: float) -> torch.Tensor:
    """One entry of the authors' state dict by the fixture README's rule."""
    if key.endswith("num_batches_tracked"):
        return torch.tensor(0, dtype=torch.int64)
    rs = np.random.RandomState(zlib.crc32(key.encode()))
    if key.endswith("running_var"):
        value = 1.0 + 0.1 * rs.rand(*shape)
    elif key.endswith("running_mean"):
        value = 0.1 * rs.randn(*shape)
    elif len(shape) >= 2:
        value = rs.randn(*shape) * gain * np.sqrt(1 / np.prod(shape[1:]))
    elif key.endswith("weight"):
        value = 1.0 + 0.1 * rs.randn(*shape)
    else:
        value = 0.1 * rs.randn(*shape)
    return torch.from_numpy(np.asarray(value).astype(np.float32))


def official_state_dict(keys: list[tuple[str, tuple[int, ...]]]) -> dict[str, torch.Tensor]:
    gain = float(json.loads((FIXTURE / "meta.json").read_text())["weight_gain"])
    return {key: official_weight(key, shape, gain) for key, shape in keys}


def r101_keys(r50_keys: list[tuple[str, tuple[int, ...]]]) -> list[tuple[str, tuple[int, ...]]]:
    """The R101 key list: layer 3 (``backbone.layers.2``) extended from 6 to 23 blocks."""
    keys = []
    for key, shape in r50_keys:
        keys.append((key, shape))
        if key == "backbone.layers.2.5.bn3.num_batches_tracked":
            block = [(k, s) for k, s in r50_keys if k.startswith("backbone.layers.2.5.")]
            for index in range(6, 23):
                keys += [(k.replace(".2.5.", f".2.{index}."), s) for k, s in block]
    return keys


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE / "official_outputs.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def official_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("yolact") / "official_r50.pth"
    torch.save(official_state_dict(read_key_table(FIXTURE / "state_dict_keys.tsv")), path)
    return path


@pytest.fixture(scope="module")
def r50_model(official_checkpoint: Path) -> torch.nn.Module:
    model = init_model(R50_CONFIG)
    state = torch.load(official_checkpoint, weights_only=True)
    model.load_state_dict(convert_state_dict(state), strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def raw_outputs(r50_model: torch.nn.Module, reference: dict) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return r50_model(torch.from_numpy(reference["input"]), mode="tensor")


def unpacked_masks(reference: dict) -> np.ndarray:
    shape = tuple(reference["post_masks_shape"])
    return np.unpackbits(reference["post_masks_top"], axis=-1)[..., : shape[2]].astype(bool)


def test_raw_outputs_match_authors(raw_outputs: dict, reference: dict) -> None:
    cls_probs = torch.softmax(raw_outputs["cls_logits"], dim=-1)
    pairs = {
        "loc": raw_outputs["loc"],
        "conf": cls_probs,
        "mask": raw_outputs["coeffs"],
        "proto": raw_outputs["protos"],
    }
    for key, ours in pairs.items():
        assert ours.shape == reference[key].shape, key
        np.testing.assert_allclose(ours.numpy(), reference[key], rtol=0, atol=1e-4, err_msg=key)
    assert torch.equal(raw_outputs["priors"], torch.from_numpy(reference["priors"]))


def test_detections_match_authors(
    r50_model: torch.nn.Module, raw_outputs: dict, reference: dict
) -> None:
    detections = r50_model.instance_head.detect(raw_outputs)[0]
    np.testing.assert_array_equal(detections.labels.numpy(), reference["det_class"])
    np.testing.assert_allclose(detections.scores.numpy(), reference["det_score"], atol=1e-5)
    np.testing.assert_allclose(detections.boxes_rel.numpy(), reference["det_box"], atol=1e-5)
    np.testing.assert_allclose(detections.coeffs.numpy(), reference["det_coeff"], atol=1e-4)
    mask_probs = assemble_masks(
        raw_outputs["protos"][0], detections.coeffs[:20], detections.boxes_rel[:20]
    )
    np.testing.assert_allclose(
        mask_probs.numpy(), reference["assembled_mask_probs_top20"], rtol=0, atol=1e-4
    )


def check_final_results(results: PanopticDataSample, reference: dict) -> None:
    instances = results.pred_instances
    np.testing.assert_array_equal(instances.labels.numpy(), reference["post_class"])
    np.testing.assert_allclose(instances.scores.numpy(), reference["post_score"], atol=1e-5)
    # The authors truncate the clamped image-space boxes to integers.
    np.testing.assert_array_equal(instances.boxes.long().numpy(), reference["post_box"])
    expected = unpacked_masks(reference)
    assert instances.masks.dtype == torch.bool
    assert instances.masks.shape[1:] == expected.shape[1:]
    assert (instances.masks[: len(expected)].numpy() == expected).mean() > 0.999


def test_predict_from_stored_input_matches_authors(
    r50_model: torch.nn.Module, reference: dict
) -> None:
    sample = PanopticDataSample(metainfo={"ori_shape": (360, 640), "img_shape": (550, 550)})
    with torch.no_grad():
        results = r50_model(torch.from_numpy(reference["input"]), [sample], mode="predict")[0]
    check_final_results(results, reference)


def test_inference_image_on_jpeg_matches_authors(
    official_checkpoint: Path, reference: dict
) -> None:
    # The authors' checkpoint layout is converted on the fly by init_model.
    model = init_model(R50_CONFIG, official_checkpoint)
    check_final_results(inference_image(model, IMAGE), reference)
    from_array = inference_image(model, cv2.imread(str(IMAGE)))
    np.testing.assert_array_equal(from_array.pred_instances.labels.numpy(), reference["post_class"])


@pytest.mark.slow
def test_r101_checkpoint_converts_and_runs() -> None:
    keys = r101_keys(read_key_table(FIXTURE / "state_dict_keys.tsv"))
    assert (
        sum(k.startswith("backbone.layers.2.") and k.endswith("conv1.weight") for k, _ in keys)
        == 23
    )
    converted = convert_state_dict(official_state_dict(keys))
    model = init_model(R101_CONFIG)
    ours = model.state_dict()
    assert set(converted) == set(ours)
    for key, value in converted.items():
        assert value.shape == ours[key].shape, key
    model.load_state_dict(converted, strict=True)
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 550, 550), mode="tensor")
    assert outputs["loc"].shape == (1, 19248, 4)
    assert outputs["cls_logits"].shape == (1, 19248, 81)
    assert outputs["coeffs"].shape == (1, 19248, 32)
    assert outputs["protos"].shape == (1, 138, 138, 32)
    assert torch.isfinite(outputs["cls_logits"]).all()
    assert Config.fromfile(str(R101_CONFIG)).model.backbone.depth == 101


def test_config_test_pipeline_and_preprocessor_match_authors(
    r50_model: torch.nn.Module, reference: dict
) -> None:
    # The dataset path (test pipeline + PanopticDataPreprocessor) feeds the same input.
    config = Config.fromfile(str(R50_CONFIG))
    transforms = [t for t in config.test_pipeline if t["type"] != "LoadPanopticAnnotations"]
    pipeline = Compose([TRANSFORMS.build(t) for t in transforms])
    data = pipeline({"img_path": str(IMAGE), "img_id": 439180})
    batch = r50_model.data_preprocessor(
        {"inputs": [data["inputs"]], "data_samples": [data["data_samples"]]}, False
    )
    np.testing.assert_array_equal(batch["inputs"].numpy(), reference["input"])
    with torch.no_grad():
        results = r50_model(batch["inputs"], batch["data_samples"], mode="predict")[0]
    check_final_results(results, reference)


def test_cross_class_fast_nms_option(raw_outputs: dict) -> None:
    cls_probs = torch.softmax(raw_outputs["cls_logits"][0], dim=-1)
    detections = detect_instances(
        raw_outputs["loc"][0],
        cls_probs,
        raw_outputs["coeffs"][0],
        raw_outputs["priors"],
        conf_thresh=0.05,
        iou_thresh=0.5,
        top_k=200,
        max_num_detections=100,
        cross_class=True,
    )
    assert 0 < len(detections) <= 100
    assert (detections.scores[:-1] >= detections.scores[1:]).all()
    # Across classes no kept box overlaps a better one by more than the threshold.
    iou = box_iou(detections.boxes_rel, detections.boxes_rel).triu(diagonal=1)
    assert iou.max() <= 0.5
