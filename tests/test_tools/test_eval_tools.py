"""Evaluation tools: eval_panoptic.py, eval_instances.py, benchmark_eval.py and test.py."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from panopticapi import evaluation as panopticapi_eval
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from panoptic.evaluation import instance_metric
from panoptic.evaluation.coco_writers import CocoPanopticWriter
from panoptic.evaluation.pq_files import read_panoptic_ids
from panoptic.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
HOTCOCO = pytest.mark.skipif(instance_metric.hotcoco is None, reason="hotcoco missing")


def load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"tool_{name}", ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # worker processes pickle its functions by name
    spec.loader.exec_module(module)
    return module


def write_predictions(sample_dir: Path, out: Path) -> Path:
    """Shifted and partly relabelled copies of the sample's ground truth, as COCO files."""
    gt_json = json.loads((sample_dir / "panoptic_examples.json").read_text())
    writer = CocoPanopticWriter(out, gt_json["categories"], "pred")
    rng = np.random.default_rng(0)
    for ann in gt_json["annotations"]:
        gt_map = read_panoptic_ids(sample_dir / "panoptic_examples" / ann["file_name"])
        pred_map = np.roll(gt_map.astype(np.int32), 6, axis=1)
        segments = [
            {"id": s["id"], "category_id": s["category_id"] if rng.random() < 0.8 else 1}
            for s in ann["segments_info"]
            if (pred_map == s["id"]).any()
        ]
        writer.add(ann["image_id"], pred_map, segments, ann["file_name"])
    return writer.write_json()


@pytest.mark.parametrize("decoder", [[], ["--decoder", "opencv"]])
def test_eval_panoptic_writes_panopticapi_results(
    coco_sample_dir: Path, tmp_path: Path, capsys, decoder: list[str]
):
    tool = load_tool("eval_panoptic")
    pred_json = write_predictions(coco_sample_dir, tmp_path)
    gt_json = coco_sample_dir / "panoptic_examples.json"
    gt_dir = coco_sample_dir / "panoptic_examples"
    out = tmp_path / "metrics.json"
    argv = ["--gt-json", str(gt_json), "--gt-dir", str(gt_dir), "--pred-json", str(pred_json)]
    argv += ["--pred-dir", str(tmp_path / "pred"), "--workers", "2", "--out", str(out), *decoder]
    assert tool.main(argv) == 0
    assert "Things" in capsys.readouterr().out
    with contextlib.redirect_stdout(io.StringIO()):
        ref = panopticapi_eval.pq_compute(
            str(gt_json), str(pred_json), str(gt_dir), str(tmp_path / "pred")
        )
    ours = json.loads(out.read_text())
    for split in ("All", "Things", "Stuff"):
        assert ours[split]["n"] == ref[split]["n"]
        assert ours[split]["pq"] == pytest.approx(ref[split]["pq"], abs=1e-12)
    for category_id, row in ref["per_class"].items():
        assert ours["per_class"][str(category_id)]["pq"] == pytest.approx(row["pq"], abs=1e-12)
    assert set(ours["per_class"]["1"]) == {"pq", "sq", "rq", "tp", "fp", "fn", "iou"}

    data = json.loads(pred_json.read_text())
    data["annotations"] = data["annotations"][:1]
    pred_json.write_text(json.dumps(data))
    assert tool.main(argv) == 1
    assert "no prediction for the image with id: 439180" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["pycocotools", pytest.param("hotcoco", marks=HOTCOCO)])
def test_eval_instances_equals_cocoeval(coco_sample_dir: Path, tmp_path: Path, backend: str):
    tool = load_tool("eval_instances")
    gt_path = coco_sample_dir / "panoptic_coco_detection_format.json"
    gt = json.loads(gt_path.read_text())
    if backend == "hotcoco":  # the sample numbers its annotations from 0: see the next test
        for annotation in gt["annotations"]:
            annotation["id"] += 1
        gt_path = tmp_path / "gt_from_1.json"
        gt_path.write_text(json.dumps(gt))
    rng = np.random.default_rng(0)
    results = []
    for ann in gt["annotations"]:
        if ann["iscrowd"] or rng.random() < 0.2:
            continue
        x, y, w, h = ann["bbox"]
        dx, dy = rng.normal(0, 0.1 * w), rng.normal(0, 0.1 * h)
        results.append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "bbox": [x + dx, y + dy, w, h],
                "score": float(rng.random()),
                "segmentation": ann["segmentation"],
            }
        )
    pred_path = tmp_path / "results.json"
    pred_path.write_text(json.dumps(results))
    out = tmp_path / "stats.json"
    argv = ["--gt-json", str(gt_path), "--pred-json", str(pred_path), "--out", str(out)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert tool.main([*argv, "--backend", backend]) == 0
        coco = COCO(str(gt_path))
        expected = {}
        for iou_type in ("segm", "bbox"):
            evaluator = COCOeval(coco, coco.loadRes(str(pred_path)), iou_type)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
            expected[iou_type] = evaluator.stats.tolist()
    stats = json.loads(out.read_text())
    assert list(stats["segm"].values()) == expected["segm"]
    assert list(stats["bbox"].values()) == expected["bbox"]
    assert expected["bbox"][0] < expected["segm"][0]  # the boxes were jittered, the masks not
    assert tool.main(["--gt-json", str(tmp_path / "none.json"), "--pred-json", str(pred_path)]) == 1


@HOTCOCO
def test_hotcoco_refuses_annotation_id_zero(coco_sample_dir: Path, tmp_path: Path, capsys):
    """pycocotools never counts a match to annotation id 0 (the sample starts at 0), hotcoco
    does: on the sample, person mask AP is 0.923 against 1.0 for a perfect prediction."""
    tool = load_tool("eval_instances")
    gt_path = coco_sample_dir / "panoptic_coco_detection_format.json"
    gt = json.loads(gt_path.read_text())
    assert min(a["id"] for a in gt["annotations"]) == 0
    results = [
        {**{k: a[k] for k in ("image_id", "category_id", "bbox", "segmentation")}, "score": 0.9}
        for a in gt["annotations"]
        if not a["iscrowd"]
    ]
    pred_path = tmp_path / "results.json"
    pred_path.write_text(json.dumps(results))
    args = ["--gt-json", str(gt_path), "--pred-json", str(pred_path), "--all-categories"]
    assert tool.main([*args, "--backend", "hotcoco"]) == 1
    assert "annotation with id 0" in capsys.readouterr().err
    assert tool.main(args) == 0  # pycocotools, quirk included
    assert "mAP=0.9904" in capsys.readouterr().out


def test_benchmark_eval_runs_and_checks_equality(tmp_path: Path, capsys):
    tool = load_tool("benchmark_eval")
    out = tmp_path / "bench.json"
    argv = ["--images", "6", "--repeats", "1", "--workers", "2", "--work-dir", str(tmp_path / "w")]
    assert tool.main([*argv, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 6 and report["wall_ms_per_image"]["in_memory"] > 0
    assert report["cpu_ms_per_image"]["panopticapi"] > report["cpu_ms_per_image"]["in_memory"]
    assert 0 < report["pq_all"] < 1
    if instance_metric.hotcoco is not None:  # the row for scale: same numbers up to rounding
        assert report["hotcoco_largest_difference"] < 1e-9
    assert "equal to panopticapi's" in capsys.readouterr().out
    assert len(list((tmp_path / "w" / "panoptic_pred").iterdir())) == 6


@HOTCOCO
def test_benchmark_instances_runs_and_checks_equality(tmp_path: Path, capsys):
    tool = load_tool("benchmark_instances")
    out = tmp_path / "bench.json"
    assert tool.main(["--images", "8", "--repeats", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 8 and set(report["seconds"]) == {"pycocotools", "hotcoco"}
    assert 0 < report["stats"]["segm"]["mAP"] < 1
    assert "equal in both" in capsys.readouterr().out


@pytest.mark.slow
def test_test_tool_end_to_end_on_synthetic_config(tmp_path: Path):
    config = ROOT / "configs" / "panoptic" / "yolact_upsnet_r18_synthetic.py"
    init_default_scope("panoptic")
    model = MODELS.build(Config.fromfile(str(config)).model)
    checkpoint = tmp_path / "model.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, checkpoint)
    tool = load_tool("test")
    out, show = tmp_path / "out", tmp_path / "show"
    argv = [str(config), str(checkpoint), "--out", str(out), "--show-dir", str(show)]
    argv += [
        "--work-dir",
        str(tmp_path / "wd"),
        "--cfg-options",
        "test_dataloader.dataset.num_images=3",
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        assert tool.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"panoptic/PQ", "panoptic/PQ_th", "coco/segm_mAP"} <= set(metrics)
    assert len(list((out / "panoptic_pred").iterdir())) == 3
    assert len(json.loads((out / "panoptic_pred.json").read_text())["annotations"]) == 3
    assert isinstance(json.loads((out / "instances_results.json").read_text()), list)
    assert json.loads((out / "panoptic_metrics.json").read_text())["per_class"]
    assert len(list(show.iterdir())) == 3
    assert tool.main([str(config), str(tmp_path / "missing.pth")]) == 2
