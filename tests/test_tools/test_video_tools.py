"""tools/track.py and tools/eval_video.py end to end, and inference_video streaming."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from panoptic.apis import inference_video, init_model
from panoptic.data.panoptic_io import read_panoptic_png

ROOT = Path(__file__).resolve().parents[2]
VIDEO_MODEL = ROOT / "configs/_base_/models/video_yolact_upsnet_r18_fpn.py"
CATEGORIES = [
    {"id": 1, "name": "circle", "isthing": 1, "color": [220, 20, 60]},
    {"id": 2, "name": "square", "isthing": 1, "color": [0, 0, 142]},
    {"id": 3, "name": "star", "isthing": 1, "color": [0, 142, 0]},
    {"id": 4, "name": "cross", "isthing": 1, "color": [142, 0, 0]},
    {"id": 5, "name": "sky", "isthing": 0, "color": [70, 130, 180]},
    {"id": 6, "name": "grass", "isthing": 0, "color": [20, 160, 20]},
    {"id": 7, "name": "sand", "isthing": 0, "color": [200, 180, 120]},
]


def _load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_tool", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


track = _load_tool("track")
eval_video = _load_tool("eval_video")


@pytest.fixture(scope="module")
def tiny_video_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small video architecture at 64 px, thing-favouring semantic bias, random weights."""
    tmp = tmp_path_factory.mktemp("track")
    config = tmp / "tiny_video.py"
    config.write_text(
        f"""_base_ = [{str(VIDEO_MODEL)!r}]
default_scope = "panoptic"
model = dict(
    data_preprocessor=dict(type="ImgDataPreprocessor", mean=[103.94, 116.78, 123.68],
                           std=[57.38, 57.12, 58.40], bgr_to_rgb=True, pad_size_divisor=1),
    instance_head=dict(prior_base_size=64, conf_thresh=0.0),
    panoptic_head=dict(score_thresh=0.0),
    # Above 1.5, the most a class change can score: every track keeps its class.
    tracker=dict(min_affinity=1.6),
)
"""
    )
    torch.manual_seed(0)
    model = init_model(config)
    with torch.no_grad():
        model.semantic_head.classifier.bias[:4] = 20.0
        model.semantic_head.classifier.bias[4:] = -20.0
    checkpoint = tmp / "tiny.pth"
    torch.save(
        {"state_dict": model.state_dict(), "meta": {"dataset_meta": {"categories": CATEGORIES}}},
        checkpoint,
    )
    return config, checkpoint


def _frames(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in range(count):
        image = np.full((48, 80, 3), 90, np.uint8)
        cv2.rectangle(image, (10 + 2 * t, 10), (30 + 2 * t, 34), (20, 200, 240), -1)
        paths.append(folder / f"frame_{t:03d}.jpg")
        cv2.imwrite(str(paths[-1]), image)
    return paths


def test_inference_video_streams_frames_lazily(
    tiny_video_model: tuple[Path, Path], tmp_path: Path
) -> None:
    config, checkpoint = tiny_video_model
    model = init_model(config, checkpoint)
    paths = _frames(tmp_path / "frames", 3)
    consumed: list[int] = []

    def frames():
        for i, path in enumerate(paths):
            consumed.append(i)
            yield path

    stream = inference_video(model, frames(), video_id="clip")
    first = next(stream)
    assert consumed == [0]  # nothing read ahead
    assert first.metainfo["frame_index"] == 0 and first.metainfo["video_id"] == "clip"
    rest = list(stream)
    assert [r.metainfo["frame_index"] for r in rest] == [1, 2]
    assert first.pred_panoptic.id_map.shape == (48, 80)
    with pytest.raises(TypeError, match="cannot track"):
        next(inference_video(torch.nn.Linear(1, 1), paths))


def test_track_tool_writes_files_that_eval_video_reads(
    tiny_video_model: tuple[Path, Path], tmp_path: Path
) -> None:
    config, checkpoint = tiny_video_model
    _frames(tmp_path / "frames", 4)
    out = tmp_path / "out"
    code = track.main(
        [str(config), str(checkpoint), "--input", str(tmp_path / "frames"), "--out", str(out)]
    )
    assert code == 0
    pred = json.loads((out / "panoptic.json").read_text())
    assert pred["videos"] == [{"video_id": 0, "image_ids": [0, 1, 2, 3]}]
    assert len(list((out / "overlays").glob("*.jpg"))) == 4
    assert Image.open(out / "tracked.gif").n_frames == 4
    things = [s for a in pred["annotations"] for s in a["segments_info"] if s["isthing"]]
    assert things and all(s["id"] == 65536 + s["instance_id"] for s in things)
    id_map = read_panoptic_png(out / "panoptic" / "frame_000.png")
    assert set(np.unique(id_map).tolist()) - {0} == {
        s["id"] for s in pred["annotations"][0]["segments_info"]
    }
    # The output is valid ground truth too: scored against itself everything is perfect.
    metrics_path = tmp_path / "metrics.json"
    args = ["--gt-json", str(out / "panoptic.json"), "--gt-dir", str(out / "panoptic")]
    args += ["--pred-json", str(out / "panoptic.json"), "--pred-dir", str(out / "panoptic")]
    assert eval_video.main([*args, "--window-lengths", "1", "2", "--out", str(metrics_path)]) == 0
    metrics = json.loads(metrics_path.read_text())
    assert set(metrics["vpq"]) == {"k0", "k5", "mean"}
    assert metrics["vpq"]["mean"]["All"] == 1.0 and metrics["stq"]["stq"] == 1.0
    assert set(metrics["vpq"]["k0"]["All"]) == {"pq", "sq", "rq", "n"}


def test_track_tool_mp4_and_bad_input(
    tiny_video_model: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config, checkpoint = tiny_video_model
    paths = _frames(tmp_path / "frames", 3)
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (80, 48))
    for path in paths:
        writer.write(cv2.imread(str(path)))
    writer.release()
    out = tmp_path / "out"
    args = [str(config), str(checkpoint), "--input", str(video), "--out", str(out)]
    assert track.main([*args, "--animation", "mp4"]) == 0
    assert (out / "tracked.mp4").stat().st_size > 0
    assert len(list((out / "panoptic").glob("clip_*.png"))) == 3
    assert (
        track.main(
            [str(config), str(checkpoint), "--input", str(tmp_path / "nope"), "--out", str(out)]
        )
        == 1
    )
    assert "nope" in capsys.readouterr().err


def test_eval_video_names_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--gt-json", "g.json", "--gt-dir", str(tmp_path / "missing"), "--pred-json", "p.json"]
    assert eval_video.main([*args, "--pred-dir", str(tmp_path)]) == 2
    assert "--gt-dir" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_tracking_step(tmp_path: Path) -> None:
    """The demo's track_videos step on one tiny val video: GIF, predictions, metrics."""
    demo = _load_tool("demo")
    data_dir = tmp_path / "data"
    demo.generate_data(data_dir, scale=0.004)  # one video per split
    image_config = tmp_path / "image.py"
    image_config.write_text(
        f"_base_ = [{str(ROOT / 'configs/_base_/models/yolact_upsnet_r18_fpn.py')!r}]\n"
        'default_scope = "panoptic"\n'
    )
    torch.manual_seed(0)
    checkpoint = tmp_path / "image.pth"
    # Shifted weights, so that a detector left at its fresh initialisation shows.
    state = {
        k: v * 0.999 if v.is_floating_point() else v
        for k, v in init_model(image_config).state_dict().items()
    }
    torch.save({"state_dict": state}, checkpoint)
    metrics = demo.track_videos(checkpoint, data_dir, tmp_path / "tracking", iters=2)
    # The frozen detector carries the image weights; only the tracking head changed.
    image_state = torch.load(checkpoint, weights_only=True)["state_dict"]
    trained = torch.load(tmp_path / "tracking/train/iter_2.pth", weights_only=False)["state_dict"]
    assert all(torch.equal(trained[k], v) for k, v in image_state.items())
    assert any(k.startswith("tracking_head.") for k in trained)
    num_frames = len(
        json.loads((data_dir / "annotations/video_panoptic_val.json").read_text())["images"]
    )
    assert Image.open(tmp_path / "tracking/tracked_video.gif").n_frames == num_frames
    written = json.loads((tmp_path / "tracking/panoptic.json").read_text())
    assert len(written["annotations"]) == num_frames
    assert json.loads((tmp_path / "tracking/metrics.json").read_text()) == metrics
    assert set(metrics["vpq"]) == {"k0", "k1", "k2", "k3", "mean"}
    table = demo.tracking_summary(metrics)
    assert "VPQ mean over k" in table and "ID switches" in table
