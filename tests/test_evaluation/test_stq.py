"""STQ: hand-computed sequences and a pixel-level deeplab2-style reference on random videos."""

from __future__ import annotations

import math

import numpy as np
import pytest

from panoptic.evaluation.stq import STQStats
from panoptic.evaluation.vpq import frame_stats

CATEGORIES = [
    {"id": 1, "name": "car", "isthing": 1},
    {"id": 2, "name": "road", "isthing": 0},
]
CAR, ROAD = 1, 2


def _segs(spec: dict[int, int], crowd: tuple[int, ...] = ()) -> list[dict]:
    return [{"id": i, "category_id": c, "iscrowd": int(i in crowd)} for i, c in spec.items()]


def _stq(frames: list[tuple], video_id: object = 0) -> dict[str, float]:
    stats = STQStats(CATEGORIES)
    for gt, gt_segs, pred, pred_segs in frames:
        stats.add(frame_stats(np.array([gt]), gt_segs, np.array([pred]), pred_segs), video_id)
    return stats.summary()


def test_id_switch_halves_association() -> None:
    gt_segs = _segs({1: CAR, 2: ROAD})
    out = _stq(
        [
            ([1, 1, 2, 2], gt_segs, [7, 7, 9, 9], _segs({7: CAR, 9: ROAD})),
            ([1, 1, 2, 2], gt_segs, [8, 8, 9, 9], _segs({8: CAR, 9: ROAD})),
        ]
    )
    # Tube 1 (4 px) meets 7 and 8 on 2 px each: (2 * 2/4 + 2 * 2/4) / 4 = 0.5.
    assert out["aq"] == 0.5
    assert out["iou"] == 1.0
    assert out["stq"] == pytest.approx(math.sqrt(0.5), abs=1e-15)


def test_predicted_void_is_an_extra_class_as_in_deeplab2() -> None:
    gt_segs = _segs({1: CAR, 2: ROAD})
    out = _stq(
        [
            ([1, 1, 2, 2], gt_segs, [7, 7, 9, 9], _segs({7: CAR, 9: ROAD})),
            ([1, 1, 2, 2], gt_segs, [8, 0, 9, 9], _segs({8: CAR, 9: ROAD})),
        ]
    )
    assert out["aq"] == pytest.approx((2 * 2 / 4 + 1 * 1 / 4) / 4, abs=1e-15)
    # car 3/4, road 1, void column 0/1.
    assert out["iou"] == pytest.approx((0.75 + 1.0 + 0.0) / 3, abs=1e-15)
    assert out["stq"] == pytest.approx(math.sqrt(out["aq"] * out["iou"]), abs=1e-15)


def test_crowd_is_left_out_of_association_but_not_of_iou() -> None:
    out = _stq([([1, 1, 3, 3], _segs({1: CAR, 3: CAR}, crowd=(3,)), [7, 7, 7, 7], _segs({7: CAR}))])
    assert out == {"stq": 1.0, "aq": 1.0, "iou": 1.0}


def test_tubes_are_per_video() -> None:
    gt_segs = _segs({1: CAR, 2: ROAD})
    stats = STQStats(CATEGORIES)
    stats.add(
        frame_stats(
            np.array([[1, 1, 2, 2]]), gt_segs, np.array([[7, 7, 9, 9]]), _segs({7: CAR, 9: ROAD})
        ),
        "a",
    )
    stats.add(
        frame_stats(
            np.array([[1, 1, 2, 2]]), gt_segs, np.array([[8, 8, 9, 9]]), _segs({8: CAR, 9: ROAD})
        ),
        "b",
    )
    assert stats.association_quality() == 1.0


def _reference_stq(videos: list[list[tuple]], categories: list[dict]) -> dict[str, float]:
    """Pixel-by-pixel STQ following deeplab2's definitions, one dict per video."""
    cat_ids = [c["id"] for c in categories]
    things = {c["id"] for c in categories if c["isthing"]}
    void = len(cat_ids)
    confusion = np.zeros((void + 1, void + 1), np.int64)
    aq_total, num_tubes = 0.0, 0
    for video in videos:
        gt_size: dict[int, int] = {}
        pred_size: dict[tuple[int, int], int] = {}
        inter: dict[tuple[int, tuple[int, int]], int] = {}
        for gt, gt_segs, pred, pred_segs in video:
            gcat = {s["id"]: s["category_id"] for s in gt_segs}
            gcrowd = {s["id"]: s["iscrowd"] for s in gt_segs}
            pcat = {s["id"]: s["category_id"] for s in pred_segs}
            for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist()):
                row = cat_ids.index(gcat[g]) if g else void
                col = cat_ids.index(pcat[p]) if p else void
                if g:
                    confusion[row, col] += 1
                crowd = bool(g) and gcat[g] in things and gcrowd[g]
                g_tube = bool(g) and gcat[g] in things and not gcrowd[g]
                p_tube = bool(p) and pcat[p] in things and not crowd
                if g_tube:
                    gt_size[g] = gt_size.get(g, 0) + 1
                if p_tube:
                    pred_size[(p, pcat[p])] = pred_size.get((p, pcat[p]), 0) + 1
                if g_tube and p_tube:
                    inter[(g, (p, pcat[p]))] = inter.get((g, (p, pcat[p])), 0) + 1
        num_tubes += len(gt_size)
        for (g, p), tpa in inter.items():
            aq_total += tpa * tpa / (gt_size[g] + pred_size[p] - tpa) / gt_size[g]
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    iou = float((tp[union > 0] / union[union > 0]).sum() / (union > 0).sum())
    aq = aq_total / max(num_tubes, 1)
    return {"stq": math.sqrt(aq * iou), "aq": aq, "iou": iou}


def test_random_videos_match_pixel_reference() -> None:
    rng = np.random.default_rng(0)
    categories = [{"id": c, "isthing": int(c <= 2)} for c in (1, 2, 5)]
    videos = []
    for _ in range(3):
        video = []
        for _ in range(3):
            gt = rng.choice([0, 11, 12, 13, 20], size=(9, 11), p=[0.1, 0.3, 0.2, 0.1, 0.3])
            pred = rng.choice([0, 31, 32, 33, 40], size=(9, 11))
            gt_segs = [
                {"id": 11, "category_id": 1, "iscrowd": 0},
                {"id": 12, "category_id": 2, "iscrowd": 0},
                {"id": 13, "category_id": 2, "iscrowd": 1},
                {"id": 20, "category_id": 5, "iscrowd": 0},
            ]
            pred_segs = [
                {"id": 31, "category_id": 1},
                {"id": 32, "category_id": 2},
                {"id": 33, "category_id": 1},
                {"id": 40, "category_id": 5},
            ]
            video.append((gt, gt_segs, pred, pred_segs))
        videos.append(video)
    stats = STQStats(categories)
    for vid, video in enumerate(videos):
        for frame in video:
            stats.add(frame_stats(*frame), vid)
    expected = _reference_stq(videos, categories)
    got = stats.summary()
    for key in ("stq", "aq", "iou"):
        assert got[key] == pytest.approx(expected[key], abs=1e-12)
    assert 0.0 < got["aq"] < 1.0
