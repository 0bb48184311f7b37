"""VPQ: hand-computed sequences, panopticapi parity on concatenated windows, the file tool."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from panopticapi.evaluation import pq_compute_single_core

from panoptic.data.panoptic_io import write_panoptic_png
from panoptic.evaluation.pq import PQAccumulator
from panoptic.evaluation.video_metric import VideoPanopticMetric, evaluate_video_panoptic
from panoptic.evaluation.vpq import accumulate_video, frame_stats, vpq_summary

CATEGORIES = [
    {"id": 1, "name": "car", "isthing": 1, "color": [0, 0, 142]},
    {"id": 2, "name": "road", "isthing": 0, "color": [128, 64, 128]},
]
CAR, ROAD = 1, 2


def _segs(spec: dict[int, int], crowd: tuple[int, ...] = ()) -> list[dict]:
    return [{"id": i, "category_id": c, "iscrowd": int(i in crowd)} for i, c in spec.items()]


def _vpq(frames: list, lengths: tuple[int, ...] = (1, 2), gap: int = 5) -> dict:
    stats = {length: PQAccumulator(CATEGORIES) for length in lengths}
    accumulate_video(frames, lengths, stats)
    return vpq_summary(stats, gap)


def test_id_switch_breaks_the_tube_but_not_single_frames() -> None:
    gt = np.array([[1, 1, 2, 2]])
    gt_segs = _segs({1: CAR, 2: ROAD})
    f0 = frame_stats(gt, gt_segs, np.array([[7, 7, 9, 9]]), _segs({7: CAR, 9: ROAD}))
    f1 = frame_stats(gt, gt_segs, np.array([[8, 8, 9, 9]]), _segs({8: CAR, 9: ROAD}))
    out = _vpq([f0, f1])
    assert out["k0"]["All"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": 2}
    # The car tube (4 px) overlaps either predicted tube by 2 px: IoU 0.5 is no match.
    assert out["k5"]["Things"]["pq"] == 0.0
    assert out["k5"]["Stuff"]["pq"] == 1.0
    assert out["k5"]["All"]["pq"] == 0.5
    assert out["mean"] == {"All": 0.75, "Things": 0.5, "Stuff": 1.0}


def test_void_and_crowd_follow_panopticapi() -> None:
    # A prediction half on VOID and half on car crowd is no false positive.
    f0 = frame_stats(
        np.array([[0, 0, 3, 3]]),
        _segs({3: CAR}, crowd=(3,)),
        np.array([[5, 5, 5, 5]]),
        _segs({5: CAR}),
    )
    # Pixels on VOID leave the union: IoU 3 / (4 + 3 - 3 - 1) = 1.
    f1 = frame_stats(
        np.array([[1, 1, 1, 0]]), _segs({1: CAR}), np.array([[4, 4, 4, 4]]), _segs({4: CAR})
    )
    out = _vpq([f0], lengths=(1,))
    assert out["k0"]["All"]["n"] == 0
    out = _vpq([f0, f1], lengths=(1,))
    assert out["k0"]["Things"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": 1}


def test_unknown_segment_id_is_named() -> None:
    with pytest.raises(KeyError, match="segment id 4"):
        frame_stats(
            np.array([[1, 4]]), _segs({1: CAR}), np.array([[1, 1]]), _segs({1: CAR}), "x.png"
        )


def _random_video(rng: np.random.Generator, num_frames: int, h: int, w: int) -> list[tuple]:
    """Frames with a few moving rectangles, id noise, VOID and crowd; ids stable per video."""
    categories = [1, 2, 3, 4]  # 1, 2 things; 3, 4 stuff
    frames = []
    gt_objs = [(int(rng.integers(1, 1000)), int(rng.choice([1, 2]))) for _ in range(4)]
    for _ in range(num_frames):
        gt = np.zeros((h, w), np.int64)
        gt[:, : w // 2] = 2001
        gt[:, w // 2 :] = 2002
        gt[: h // 6] = 0
        segs = {2001: (3, 0), 2002: (4, 0)}
        for oid, cat in gt_objs:
            y, x = rng.integers(0, h - 6), rng.integers(0, w - 8)
            gt[y : y + 6, x : x + 8] = oid
            segs[oid] = (cat, 0)
        if rng.random() < 0.5:
            crowd_cat = int(rng.choice([1, 2]))
            gt[-3:, :5] = 3000 + crowd_cat
            segs[3000 + crowd_cat] = (crowd_cat, 1)
        pred = gt.copy()
        pred[pred == 0] = rng.choice([0, 5001], size=(pred == 0).sum())
        pred_segs = {5001: (3, 0)}
        for oid, (cat, _) in segs.items():
            if oid >= 3000:
                pred[gt == oid] = 0
                continue
            new = oid + (7 if (rng.random() < 0.3 and oid < 1000) else 0)
            noise = (gt == oid) & (rng.random((h, w)) < 0.35)
            pred[gt == oid] = new
            pred[noise] = int(rng.choice(list(segs)[:2]))
            pred_segs[new] = (
                cat if rng.random() > 0.1 else categories[(categories.index(cat) + 1) % 2],
                0,
            )
        present = set(np.unique(pred).tolist()) - {0}
        gt_list = [
            {"id": i, "category_id": c, "iscrowd": cr, "area": int((gt == i).sum())}
            for i, (c, cr) in segs.items()
            if (gt == i).any()
        ]
        pred_list = [{"id": i, "category_id": c} for i, (c, _) in pred_segs.items() if i in present]
        frames.append((gt, gt_list, pred, pred_list))
    return frames


def _consistent(frames: list[tuple]) -> list[tuple]:
    """Make a predicted id keep one category over the video (first one wins)."""
    seen: dict[int, int] = {}
    out = []
    for gt, gt_list, pred, pred_list in frames:
        fixed = []
        for seg in pred_list:
            seen.setdefault(seg["id"], seg["category_id"])
            fixed.append({"id": seg["id"], "category_id": seen[seg["id"]]})
        out.append((gt, gt_list, pred, fixed))
    return out


def _panopticapi_pq(tmp_path: Path, windows: list[list[tuple]]) -> dict:
    """panopticapi on each window's maps concatenated along the width."""
    cats = {c: {"id": c, "isthing": int(c < 3)} for c in (1, 2, 3, 4)}
    pairs = []
    for i, window in enumerate(windows):
        gt = np.concatenate([f[0] for f in window], axis=1)
        pred = np.concatenate([f[2] for f in window], axis=1)
        gt_segs = {s["id"]: dict(s, area=0) for f in window for s in f[1]}
        for s in gt_segs.values():
            s["area"] = int((gt == s["id"]).sum())
        pred_segs = {s["id"]: dict(s) for f in window for s in f[3]}
        write_panoptic_png(tmp_path / "gt" / f"{i}.png", gt)
        write_panoptic_png(tmp_path / "pred" / f"{i}.png", pred)
        pairs.append(
            (
                {"image_id": i, "file_name": f"{i}.png", "segments_info": list(gt_segs.values())},
                {"image_id": i, "file_name": f"{i}.png", "segments_info": list(pred_segs.values())},
            )
        )
    stat = pq_compute_single_core(0, pairs, str(tmp_path / "gt"), str(tmp_path / "pred"), cats)
    return {
        name: stat.pq_average(cats, isthing)[0]
        for name, isthing in (("All", None), ("Things", True), ("Stuff", False))
    }


@pytest.mark.parametrize("length", [1, 3])
def test_windows_match_panopticapi_on_concatenated_frames(tmp_path: Path, length: int) -> None:
    rng = np.random.default_rng(length)
    videos = [_consistent(_random_video(rng, 4, 24, 32)) for _ in range(3)]
    windows = [v[s : s + length] for v in videos for s in range(len(v) - length + 1)]
    expected = _panopticapi_pq(tmp_path, windows)
    cats = [{"id": c, "isthing": int(c < 3)} for c in (1, 2, 3, 4)]
    stats = {length: PQAccumulator(cats)}
    for video in videos:
        accumulate_video([frame_stats(*f) for f in video], (length,), stats)
    got = vpq_summary(stats, 5)[f"k{(length - 1) * 5}"]
    for group in ("All", "Things", "Stuff"):
        assert got[group]["n"] == expected[group]["n"]
        for key in ("pq", "sq", "rq"):
            assert got[group][key] == pytest.approx(expected[group][key], abs=1e-12)
    # Tubes must actually differ from single frames, or the window test tests nothing.
    if length == 3:
        assert got["All"]["pq"] < _single_frame_pq(videos)


def _single_frame_pq(videos: list[list[tuple]]) -> float:
    cats = [{"id": c, "isthing": int(c < 3)} for c in (1, 2, 3, 4)]
    stats = {1: PQAccumulator(cats)}
    for video in videos:
        accumulate_video([frame_stats(*f) for f in video], (1,), stats)
    return stats[1].results()["All"]["pq"]


def _flat(tree: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}/"))
        else:
            out[prefix + key] = value
    return out


def _write_video_dataset(root: Path, videos: list[list[tuple]], layout: str) -> tuple[Path, Path]:
    cats = [
        {"id": c, "name": str(c), "isthing": int(c < 3), "color": [c, c, c]} for c in (1, 2, 3, 4)
    ]
    gt = {"images": [], "annotations": [], "categories": cats}
    pred = {"annotations": []}
    if layout == "videos":
        gt["videos"] = []
    image_id = 0
    for vid, video in enumerate(videos):
        ids = []
        for t, (gt_map, gt_segs, pred_map, pred_segs) in enumerate(video):
            name = f"v{vid}_f{t}.png"
            image = {"id": image_id, "file_name": name.replace("png", "jpg")}
            if layout == "frames":
                image.update(video_id=f"video{vid}", frame_index=10 * (len(video) - t))
            gt["images"].append(image)
            gt["annotations"].append(
                {"image_id": image_id, "file_name": name, "segments_info": gt_segs}
            )
            pred["annotations"].append(
                {"image_id": image_id, "file_name": name, "segments_info": pred_segs}
            )
            write_panoptic_png(root / "gt" / name, gt_map)
            write_panoptic_png(root / "pred" / name, pred_map)
            ids.append(image_id)
            image_id += 1
        if layout == "videos":
            gt["videos"].append({"video_id": vid, "image_ids": ids})
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "pred.json").write_text(json.dumps(pred))
    return root / "gt.json", root / "pred.json"


def test_file_evaluator_layouts_and_workers_agree(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    videos = [_consistent(_random_video(rng, n, 24, 32)) for n in (3, 5, 1)]
    gt_json, pred_json = _write_video_dataset(tmp_path, videos, "videos")
    one = evaluate_video_panoptic(
        gt_json, tmp_path / "gt", pred_json, tmp_path / "pred", (1, 2), 5, workers=1, progress=False
    )
    two = evaluate_video_panoptic(
        gt_json, tmp_path / "gt", pred_json, tmp_path / "pred", (1, 2), 5, workers=2, progress=False
    )
    assert _flat(one) == pytest.approx(_flat(two), abs=1e-12)
    assert set(one["vpq"]) == {"k0", "k5", "mean"}
    assert one["vpq"]["k0"]["All"]["pq"] == pytest.approx(_single_frame_pq(videos), abs=1e-12)
    # Frames listed by video_id / frame_index (here in reverse order) give the reversed videos.
    reversed_videos = [v[::-1] for v in videos]
    rev_root = tmp_path / "rev"
    gt_json2, pred_json2 = _write_video_dataset(rev_root, reversed_videos, "frames")
    rev = evaluate_video_panoptic(
        gt_json2, rev_root / "gt", pred_json2, rev_root / "pred", (1, 2), 5, progress=False
    )
    assert _flat(rev) == pytest.approx(_flat(one), abs=1e-12)


def test_missing_prediction_is_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    gt_json, pred_json = _write_video_dataset(tmp_path, [_random_video(rng, 2, 12, 12)], "videos")
    pred = json.loads(pred_json.read_text())
    pred["annotations"] = pred["annotations"][:1]
    pred_json.write_text(json.dumps(pred))
    with pytest.raises(KeyError, match="image_id 1"):
        evaluate_video_panoptic(
            gt_json, tmp_path / "gt", pred_json, tmp_path / "pred", progress=False
        )


def test_id_switches_count_changes_of_matched_id() -> None:
    from panoptic.evaluation.vpq import count_id_switches

    gt, gt_segs = np.array([[1, 1, 2, 2]]), _segs({1: CAR, 2: ROAD})
    ids = [7, 7, 8, 8, 7]  # switches at frames 2 and 4
    frames = [
        frame_stats(gt, gt_segs, np.array([[i, i, 9, 9]]), _segs({i: CAR, 9: ROAD})) for i in ids
    ]
    assert count_id_switches(frames) == 2
    # An unmatched frame in between does not reset the memory.
    lost = frame_stats(gt, gt_segs, np.array([[0, 0, 9, 9]]), _segs({9: ROAD}))
    assert count_id_switches([frames[0], lost, frames[0]]) == 0


def test_predicted_id_changing_category_is_a_new_tube() -> None:
    gt, gt_segs = np.array([[1, 1, 2, 2]]), _segs({1: CAR, 2: ROAD})
    f0 = frame_stats(gt, gt_segs, np.array([[7, 7, 9, 9]]), _segs({7: CAR, 9: ROAD}))
    f1 = frame_stats(gt, gt_segs, np.array([[7, 7, 9, 9]]), _segs({7: ROAD, 9: ROAD}))
    out = _vpq([f0, f1], lengths=(2,))
    # Car tube: (7, car) covers half of it -> FN + FP; road tube: (9, road) matches,
    # (7, road) overlaps no road ground truth -> FP.
    assert out["k5"]["Things"]["pq"] == 0.0
    assert out["k5"]["Stuff"]["rq"] == pytest.approx(1 / 1.5)
    with pytest.raises(ValueError, match="ground-truth segment id 1 changes category"):
        _vpq(
            [
                f0,
                frame_stats(
                    gt,
                    _segs({1: ROAD, 2: ROAD}),
                    np.array([[7, 7, 9, 9]]),
                    _segs({7: CAR, 9: ROAD}),
                ),
            ],
            lengths=(2,),
        )


def test_streaming_metric_matches_the_file_evaluator(tmp_path: Path) -> None:
    import torch
    from mmengine.evaluator import Evaluator
    from mmengine.structures import BaseDataElement

    from panoptic.structures import PanopticDataSample

    rng = np.random.default_rng(5)
    videos = [_consistent(_random_video(rng, n, 24, 32)) for n in (3, 4)]
    gt_json, pred_json = _write_video_dataset(tmp_path, videos, "videos")
    expected = evaluate_video_panoptic(
        gt_json, tmp_path / "gt", pred_json, tmp_path / "pred", (1, 2), 1, progress=False
    )
    cats = [{"id": c, "name": str(c), "isthing": int(c < 3)} for c in (1, 2, 3, 4)]
    evaluator = Evaluator(VideoPanopticMetric(window_lengths=(1, 2), frame_gap=1))
    evaluator.dataset_meta = {"categories": cats}
    # Frames arrive interleaved across videos and out of order within them.
    order = [(1, 2), (0, 1), (1, 0), (0, 0), (1, 3), (0, 2), (1, 1)]
    for vid, t in order:
        gt_map, gt_segs, pred_map, pred_segs = videos[vid][t]
        sample = PanopticDataSample(metainfo=dict(video_id=vid, frame_index=t))
        sample.gt_panoptic = BaseDataElement(id_map=torch.from_numpy(gt_map), segments=gt_segs)
        sample.pred_panoptic = BaseDataElement(
            id_map=torch.from_numpy(pred_map), segments=pred_segs
        )
        evaluator.process([sample])
    got = evaluator.evaluate(len(order))
    assert got["video/vpq"] == pytest.approx(expected["vpq"]["mean"]["All"], abs=1e-12)
    assert got["video/vpq_k1"] == pytest.approx(expected["vpq"]["k1"]["All"]["pq"], abs=1e-12)
    assert got["video/stq"] == pytest.approx(expected["stq"]["stq"], abs=1e-12)
    assert got["video/id_switches"] == expected["id_switches"]
