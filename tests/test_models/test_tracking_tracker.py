"""Tracker: hand-built sequences with exact expected track ids."""

from __future__ import annotations

import pytest
import torch

from panoptic.models.tracking.tracker import Tracker, hungarian_assignment, track_affinity

# Unit embeddings of three distinct objects.
EMB = {"a": [1.0, 0.0, 0.0], "b": [0.0, 1.0, 0.0], "c": [0.0, 0.0, 1.0]}


def _tracker(**overrides: float) -> Tracker:
    cfg = dict(
        embed_weight=1.0,
        class_weight=0.5,
        iou_weight=0.5,
        min_affinity=1.0,
        max_age=2,
        momentum=0.5,
    )
    cfg.update(overrides)
    return Tracker(**cfg)


def _frame(*dets: tuple[str, float, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Detections (object, left x, label) as 20x20 boxes at y = 0."""
    boxes = torch.tensor([[x, 0.0, x + 20.0, 20.0] for _, x, _ in dets]).reshape(-1, 4)
    labels = torch.tensor([label for _, _, label in dets], dtype=torch.int64)
    embeddings = torch.tensor([EMB[name] for name, _, _ in dets]).reshape(-1, 3)
    return boxes, labels, embeddings


def test_two_objects_crossing_paths_keep_their_ids() -> None:
    tracker = _tracker()
    ids = [
        tracker.update(*_frame(("a", 0, 0), ("b", 100, 0))),
        tracker.update(*_frame(("a", 45, 0), ("b", 55, 0))),  # boxes overlap
        tracker.update(*_frame(("b", 0, 0), ("a", 100, 0))),  # swapped sides
    ]
    assert [i.tolist() for i in ids] == [[1, 2], [1, 2], [2, 1]]


def test_box_cue_alone_swaps_crossing_objects() -> None:
    # Without embeddings the last frame's boxes sit on the other track's old place.
    tracker = _tracker(embed_weight=0.0, min_affinity=0.55)
    tracker.update(*_frame(("a", 0, 0), ("b", 30, 0)))
    ids = tracker.update(*_frame(("b", 2, 0), ("a", 28, 0)))
    assert ids.tolist() == [1, 2]


def test_object_leaving_and_reentering_within_max_age() -> None:
    tracker = _tracker(max_age=2)
    assert tracker.update(*_frame(("a", 0, 0), ("b", 100, 1))).tolist() == [1, 2]
    assert tracker.update(*_frame(("b", 100, 1))).tolist() == [2]
    assert tracker.update(*_frame(("b", 100, 1))).tolist() == [2]
    # Back after two unseen frames, elsewhere: the embedding recognises it.
    assert tracker.update(*_frame(("b", 100, 1), ("a", 200, 0))).tolist() == [2, 1]


def test_object_gone_longer_than_max_age_gets_a_new_id() -> None:
    tracker = _tracker(max_age=1)
    tracker.update(*_frame(("a", 0, 0), ("b", 100, 1)))
    tracker.update(*_frame(("b", 100, 1)))
    tracker.update(*_frame(("b", 100, 1)))
    assert tracker.update(*_frame(("a", 0, 0), ("b", 100, 1))).tolist() == [3, 2]


def test_detections_in_a_different_order_next_frame() -> None:
    tracker = _tracker()
    assert tracker.update(*_frame(("a", 0, 0), ("b", 50, 0), ("c", 100, 1))).tolist() == [1, 2, 3]
    assert tracker.update(*_frame(("c", 101, 1), ("a", 1, 0), ("b", 51, 0))).tolist() == [3, 1, 2]


def test_empty_frame_ages_tracks_and_keeps_counting() -> None:
    tracker = _tracker(max_age=1)
    tracker.update(*_frame(("a", 0, 0)))
    empty = tracker.update(*_frame())
    assert empty.shape == (0,) and empty.dtype == torch.int64
    assert [t.age for t in tracker.tracks] == [1]
    assert tracker.update(*_frame(("a", 0, 0), ("b", 50, 0))).tolist() == [1, 2]
    tracker.reset()
    assert tracker.update(*_frame(("b", 50, 0))).tolist() == [1]


def test_new_object_below_min_affinity_is_born() -> None:
    tracker = _tracker(class_weight=1.0, iou_weight=0.0, min_affinity=1.6)
    tracker.update(*_frame(("a", 0, 0)))
    # Same class, same place, other appearance: 0.5 + 1.0 < 1.6.
    assert tracker.update(*_frame(("b", 0, 0))).tolist() == [2]


def test_embedding_moving_average() -> None:
    tracker = _tracker(momentum=0.5, min_affinity=0.0)
    tracker.update(*_frame(("a", 0, 0)))
    tracker.update(*_frame(("b", 0, 0)))
    expected = torch.tensor([1.0, 1.0, 0.0]) / 2**0.5
    torch.testing.assert_close(tracker.tracks[0].embedding, expected)


def test_affinity_terms_and_assignment() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 5.0]])
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    aff = track_affinity(
        emb[:1], torch.tensor([0]), boxes[:1], emb, torch.tensor([0, 1]), boxes, 2.0, 3.0, 4.0
    )
    # (2 * 1 + 3 * 1 + 4 * 1, 2 * 0.5 + 3 * 0 + 4 * 0.5)
    torch.testing.assert_close(aff, torch.tensor([[9.0, 3.0]]))
    assert hungarian_assignment(torch.tensor([[0.9, 0.8], [0.85, 0.1]]), 0.5) == [(0, 1), (1, 0)]
    assert hungarian_assignment(torch.tensor([[0.9, 0.8], [0.85, 0.1]]), 0.81) == [(1, 0)]
    assert hungarian_assignment(torch.zeros(0, 3), 0.5) == []


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="momentum"):
        _tracker(momentum=1.0)
