"""The PNG decoders of the file evaluator: same ids as PIL (panopticapi's reader), clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from panoptic.evaluation import png, pq_files
from panoptic.evaluation.pq_files import (
    decode_panoptic_png,
    evaluate_panoptic_files,
    load_json,
    read_panoptic_ids,
)

DECODERS = [
    pytest.param(
        "numba", marks=pytest.mark.skipif(not png.numba_available(), reason="numba missing")
    ),
    pytest.param(
        "imagecodecs",
        marks=pytest.mark.skipif(pq_files.imagecodecs is None, reason="imagecodecs missing"),
    ),
    "opencv",
]


def pil_ids(path: Path) -> np.ndarray:
    """panopticapi's way: PIL, uint32, R + 256 G + 256^2 B."""
    rgb = np.array(Image.open(path), dtype=np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


@pytest.mark.parametrize("decoder", DECODERS)
def test_decoders_equal_pil_on_coco_pngs(coco_sample_dir: Path, decoder: str):
    pngs = sorted((coco_sample_dir / "panoptic_examples").glob("*.png"))
    assert pngs
    for path in pngs:
        ids = read_panoptic_ids(path, decoder=decoder)
        assert ids.dtype == np.uint32
        np.testing.assert_array_equal(ids, pil_ids(path))


@pytest.mark.parametrize("decoder", DECODERS)
def test_rgba_alpha_is_ignored_and_random_ids_round_trip(tmp_path: Path, decoder: str):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 2**24, size=(37, 53), dtype=np.uint32)
    rgb = np.stack([(ids >> shift) & 255 for shift in (0, 8, 16)], axis=-1).astype(np.uint8)
    alpha = rng.integers(0, 256, size=(37, 53, 1), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.concatenate([rgb, alpha], axis=-1), "RGBA").save(tmp_path / "rgba.png")
    for name in ("rgb.png", "rgba.png"):
        np.testing.assert_array_equal(read_panoptic_ids(tmp_path / name, decoder=decoder), ids)


@pytest.mark.parametrize("decoder", DECODERS)
def test_bad_pngs_raise_naming_the_image(tmp_path: Path, decoder: str):
    cv2.imwrite(str(tmp_path / "gray.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"ID 7 .*not an 8-bit RGB"):
        read_panoptic_ids(tmp_path / "gray.png", 7, decoder)
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"ID 8 .*cannot be decoded"):
        read_panoptic_ids(tmp_path / "junk.png", 8, decoder)
    with pytest.raises(FileNotFoundError, match=r"ID 9 .*does not exist"):
        read_panoptic_ids(tmp_path / "missing.png", 9, decoder)
    with pytest.raises(ValueError, match="unknown PNG decoder"):
        decode_panoptic_png(b"", decoder="pillow")


def test_all_decoders_give_the_same_results(coco_sample_dir: Path):
    if pq_files.imagecodecs is None or not png.numba_available():
        pytest.skip("imagecodecs or numba missing")
    gt_json = coco_sample_dir / "panoptic_examples.json"
    png_dir = coco_sample_dir / "panoptic_examples"
    runs = [
        evaluate_panoptic_files(gt_json, png_dir, gt_json, png_dir, 1, False, decoder)[0]
        for decoder in ("numba", "imagecodecs", "opencv")
    ]
    assert runs[0] == runs[1] == runs[2]
    assert runs[0]["All"]["pq"] == pytest.approx(1.0)


def test_invalid_json_names_the_file(tmp_path: Path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json is not valid JSON"):
        load_json(tmp_path / "bad.json", "prediction")
    (tmp_path / "ok.json").write_text(json.dumps({"annotations": []}))
    assert load_json(tmp_path / "ok.json", "prediction") == {"annotations": []}


def test_opencv_runs_single_threaded_inside_and_is_restored():
    before = cv2.getNumThreads()
    with pq_files.single_threaded_opencv():
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == before
