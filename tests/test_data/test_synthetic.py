"""Synthetic images and videos: determinism, exact annotations and the promised variety."""

from __future__ import annotations

import numpy as np
import pytest

from panoptic.data.panoptic_io import segments_stats
from panoptic.data.synthetic import SyntheticConfig, generate_image, generate_video
from panoptic.data.synthetic.scene import THING_ID_BASE

CONFIG = SyntheticConfig()


def frames_equal(a, b) -> bool:
    return (
        np.array_equal(a.image, b.image)
        and np.array_equal(a.id_map, b.id_map)
        and a.segments == b.segments
    )


def touching_pairs(id_map: np.ndarray, thing_ids: set[int]) -> set[tuple[int, int]]:
    pairs = set()
    for a, b in (
        (id_map[:, 1:], id_map[:, :-1]),
        (id_map[1:, :], id_map[:-1, :]),
    ):
        diff = (a != b) & np.isin(a, list(thing_ids)) & np.isin(b, list(thing_ids))
        for x, y in zip(a[diff].tolist(), b[diff].tolist()):
            pairs.add((min(x, y), max(x, y)))
    return pairs


def test_images_are_determined_by_seed_and_index() -> None:
    assert frames_equal(generate_image(CONFIG, 3, 7), generate_image(CONFIG, 3, 7))
    assert not frames_equal(generate_image(CONFIG, 3, 7), generate_image(CONFIG, 3, 8))
    assert not frames_equal(generate_image(CONFIG, 3, 7), generate_image(CONFIG, 4, 7))


def test_segments_describe_the_id_map_exactly() -> None:
    for index in range(10):
        frame = generate_image(CONFIG, 0, index)
        assert frame.image.shape == (160, 160, 3) and frame.image.dtype == np.uint8
        stats = segments_stats(frame.id_map)
        assert {s["id"] for s in frame.segments} == set(stats)
        for seg in frame.segments:
            assert (seg["area"], seg["bbox"]) == stats[seg["id"]]
            assert seg["area"] >= CONFIG.min_visible_area or not seg["isthing"]
            if seg["isthing"]:
                assert seg["id"] // THING_ID_BASE == seg["category_id"] <= 4
            else:
                assert seg["id"] == seg["category_id"] in (5, 6, 7)


def test_images_have_the_promised_variety() -> None:
    frames = [generate_image(CONFIG, 0, k) for k in range(60)]
    thing_cats, stuff_cats, repeated, occluded, touching, crowd = set(), set(), 0, 0, 0, 0
    void_share, counts, diameters = [], [], []
    for f in frames:
        things = [s for s in f.segments if s["isthing"] and not s["iscrowd"]]
        thing_cats |= {s["category_id"] for s in things}
        stuff_cats |= {s["category_id"] for s in f.segments if not s["isthing"]}
        cats = [s["category_id"] for s in things]
        repeated += len(cats) != len(set(cats))
        occluded += any(f.full_areas[s["id"]] > s["area"] for s in things)
        touching += bool(touching_pairs(f.id_map, {s["id"] for s in things}))
        crowd += any(s["iscrowd"] for s in f.segments)
        void_share.append(float((f.id_map == 0).mean()))
        counts.append(len(things))
        diameters += [max(s["bbox"][2:]) for s in things]
    assert thing_cats == {1, 2, 3, 4} and stuff_cats == {5, 6, 7}
    assert repeated >= 20 and occluded >= 15 and touching >= 15 and crowd >= 2
    assert 0.0 < np.mean(void_share) < 0.05 and max(void_share) < 0.15
    assert min(counts) >= 1 and max(counts) <= 8 and np.mean(counts) > 3
    assert 12 <= np.median(diameters) <= 50


def test_config_changes_classes_sizes_and_counts() -> None:
    config = SyntheticConfig(
        img_size=(96, 128),
        thing_classes=("hexagon", "cross"),
        stuff_classes=("grass", "sand", "sky", "water"),
        num_things=(5, 5),
        crowd_prob=0.0,
        min_visible_area=0,
    )
    assert [c["name"] for c in config.categories] == [
        "hexagon",
        "cross",
        "grass",
        "sand",
        "sky",
        "water",
    ]
    frame = generate_image(config, 0, 0)
    assert frame.image.shape == (96, 128, 3)
    assert len(frame.full_areas) <= 5
    assert {s["category_id"] for s in frame.segments if not s["isthing"]} <= {3, 4, 5, 6}
    with pytest.raises(ValueError, match="unknown thing class 'blob'"):
        SyntheticConfig(thing_classes=("blob",))


def test_videos_keep_ids_and_things_enter_leave_and_occlude() -> None:
    assert all(
        frames_equal(a, b)
        for a, b in zip(generate_video(CONFIG, 0, 1), generate_video(CONFIG, 0, 1))
    )
    entering = leaving = occlusion_changes = moved = 0
    for video in range(6):
        frames = generate_video(CONFIG, 0, video)
        assert len(frames) == CONFIG.num_frames
        ids = [{s["id"] for s in f.segments if s["isthing"]} for f in frames]
        every = set().union(*ids)
        entering += len([i for i in every if i not in ids[0]])
        leaving += len([i for i in every if i not in ids[-1]])
        for seg_id in every:
            cats = {s["category_id"] for f in frames for s in f.segments if s["id"] == seg_id}
            assert cats == {seg_id // THING_ID_BASE}
            states = [
                f.full_areas[seg_id] > s["area"]
                for f in frames
                for s in f.segments
                if s["id"] == seg_id
            ]
            occlusion_changes += len(set(states)) > 1
        boxes = [{s["id"]: s["bbox"] for s in f.segments if s["isthing"]} for f in frames[:2]]
        moved += sum(boxes[0][i] != boxes[1][i] for i in set(boxes[0]) & set(boxes[1]))
        stuff = [f.id_map <= 7 for f in frames]
        assert not np.array_equal(
            np.where(stuff[0], frames[0].id_map, 0), np.where(stuff[-1], frames[-1].id_map, 0)
        )
    assert entering >= 6 and leaving >= 6 and occlusion_changes >= 3 and moved >= 6


def test_video_frames_render_alone_as_in_the_whole_video() -> None:
    whole = generate_video(CONFIG, 2, 4)
    picked = generate_video(CONFIG, 2, 4, frame_indices=[5, 1])
    assert frames_equal(picked[0], whole[5]) and frames_equal(picked[1], whole[1])
    with pytest.raises(IndexError, match="frame 8"):
        generate_video(CONFIG, 2, 4, frame_indices=[8])
