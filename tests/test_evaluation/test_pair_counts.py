"""The compiled pair histogram equals the numpy reference on every kind of map."""

from __future__ import annotations

import numpy as np
import pytest

from panoptic.evaluation import pair_counts as pc

pytestmark = pytest.mark.skipif(not pc.numba_available(), reason="numba missing")


def brute_force(gt, pred, gt_ids, pred_ids):
    """Pixel by pixel, straight from the layout in the module docstring."""
    counts = np.zeros((len(gt_ids) + 2, len(pred_ids) + 1), np.int64)
    unlisted = set()
    for g, p in zip(gt.tolist(), pred.tolist()):
        row = 0 if g == 0 else (gt_ids.index(g) + 1 if g in gt_ids else len(gt_ids) + 1)
        if p != 0 and p not in pred_ids:
            unlisted.add(p)
            continue
        counts[row, 0 if p == 0 else pred_ids.index(p) + 1] += 1
    return counts, sorted(unlisted)


def random_maps(rng, size, dtype, num_ids, run_length):
    """Two maps of runs over ``num_ids`` random ids (some unlisted, some VOID)."""
    high = min(int(np.iinfo(dtype).max), 2**31 - 1)
    values = np.unique(rng.integers(1, high, num_ids * 2))[:num_ids]

    def one_map():
        runs = rng.integers(1, 2 * run_length + 1, size)
        ids = rng.choice(np.concatenate((values, [0])), size)
        return np.repeat(ids, runs)[:size].astype(dtype)

    gt, pred = one_map(), one_map()
    gt_listed = np.sort(rng.choice(values, max(1, len(values) * 3 // 4), replace=False))
    pred_listed = np.sort(values)  # every predicted id listed: the normal case
    return gt, pred, gt_listed.astype(np.int64), pred_listed.astype(np.int64)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.uint32, np.int64])
@pytest.mark.parametrize("size", [1, 2, 7, 8, 9, pc.BLOCK - 1, pc.BLOCK + 1, 3 * pc.BLOCK + 17])
def test_compiled_equals_reference(dtype, size: int):
    rng = np.random.default_rng(size)
    for run_length in (1, 5, 300):
        gt, pred, gt_ids, pred_ids = random_maps(rng, size, dtype, 20, run_length)
        counts, unlisted = pc.pair_counts_numba(gt, pred, gt_ids, pred_ids)
        ref_counts, ref_unlisted = pc.pair_counts_numpy(gt, pred, gt_ids, pred_ids)
        np.testing.assert_array_equal(counts, ref_counts)
        np.testing.assert_array_equal(unlisted, ref_unlisted)
        assert counts.sum() == size


def test_small_maps_equal_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(30):
        gt, pred, gt_ids, pred_ids = random_maps(rng, 50, np.int32, 6, 3)
        pred_ids = pred_ids[:-2]  # two predicted ids unlisted
        counts, unlisted = pc.pair_counts_numba(gt, pred, gt_ids, pred_ids)
        ref_counts, ref_unlisted = brute_force(gt, pred, gt_ids.tolist(), pred_ids.tolist())
        np.testing.assert_array_equal(counts, ref_counts)
        assert unlisted.tolist() == ref_unlisted


def test_many_ids_collide_in_the_lookup_caches():
    """500 ids > 64 cache slots, ids above 2^24 like COCO's colour ids."""
    rng = np.random.default_rng(3)
    ids = np.unique(rng.integers(1, 2**24, 600))[:500].astype(np.int64)
    gt = rng.choice(ids, 200_000).astype(np.uint32)
    pred = np.roll(gt, 3)
    pred[rng.random(pred.size) < 0.3] = 0
    counts, unlisted = pc.pair_counts_numba(gt, pred, ids, ids)
    ref_counts, _ = pc.pair_counts_numpy(gt, pred, ids, ids)
    np.testing.assert_array_equal(counts, ref_counts)
    assert unlisted.size == 0


def test_negative_and_unlisted_ids_are_never_mistaken_for_void():
    gt = np.array([-1, -1, 0, 5, 5, 9], np.int32)
    pred = np.array([-1, 0, 0, 2, 3, 3], np.int32)
    counts, unlisted = pc.pair_counts_numba(gt, pred, np.array([5]), np.array([2]))
    ref_counts, ref_unlisted = pc.pair_counts_numpy(gt, pred, np.array([5]), np.array([2]))
    np.testing.assert_array_equal(counts, ref_counts)
    assert unlisted.tolist() == ref_unlisted.tolist() == [-1, 3]
    # rows: VOID, id 5, unlisted; columns: VOID, id 2
    np.testing.assert_array_equal(counts, [[1, 0], [0, 1], [1, 0]])


def test_empty_maps_and_the_plain_python_loop():
    empty = np.zeros(0, np.int32)
    counts, unlisted = pc.pair_counts_numba(empty, empty, np.array([1]), np.array([1, 2]))
    assert counts.shape == (3, 3) and counts.sum() == 0 and unlisted.size == 0
    gt, pred, gt_ids, pred_ids = random_maps(np.random.default_rng(5), 300, np.int32, 8, 4)
    counts = np.zeros((gt_ids.size + 2, pred_ids.size + 2), np.int64)
    pc._count_pairs_python(gt, pred, gt_ids, pred_ids, counts)
    np.testing.assert_array_equal(
        counts[:, :-1], pc.pair_counts_numpy(gt, pred, gt_ids, pred_ids)[0]
    )


def test_other_dtypes_use_the_reference():
    gt = np.array([0, 1, 1, 2], np.uint64)
    ids = np.array([1, 2], np.int64)
    with pytest.raises(TypeError, match="uint64"):
        pc.pair_counts_numba(gt, gt, ids, ids)
    counts, _ = pc.pair_counts(gt, gt, ids, ids)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 2, 0], [0, 0, 1], [0, 0, 0]])
