"""The pixel count of every (ground-truth segment, predicted segment) pair of one image.

Two implementations with identical results:

- :func:`pair_counts_numpy`, the reference: cut the two flat maps into runs of
  constant (gt, pred) ids with vectorised comparisons, look the run heads up
  among the listed ids with ``searchsorted`` and add the run lengths with a
  weighted ``bincount``;
- :func:`pair_counts_numba`, a compiled single pass over both maps (see
  :func:`_count_pairs_python`), about 3x faster on COCO images.

:func:`pair_counts` picks the compiled one when numba is installed and the maps
have an integer dtype it compares exactly with int64 ids.

Layout of the result, for G listed ground-truth and P listed predicted ids
(both increasing): counts (G + 2, P + 1) int64 with rows 0 = ground-truth
VOID, 1..G = the listed ground-truth ids, G + 1 = ground-truth ids not listed,
and columns 0 = predicted VOID, 1..P = the listed predicted ids; pixels of
predicted ids that are not listed are left out, and those ids are returned.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - depends on the environment
    numba = None  # type: ignore[assignment]

VOID_ID = 0
# Map dtypes whose values compare exactly with int64 ids inside the compiled loops.
COMPILED_DTYPES = frozenset(
    np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32)
)


def run_heads(gt_flat: np.ndarray, pred_flat: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cut two flat maps into runs of constant (gt, pred) id pairs.

    Returns:
        gt ids (R,), pred ids (R,) at the run heads and run lengths (R,) int64.
    """
    num_pixels = gt_flat.size
    if num_pixels == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    change = np.empty(num_pixels, dtype=bool)
    change[0] = True
    np.not_equal(gt_flat[1:], gt_flat[:-1], out=change[1:])
    pred_change = np.not_equal(pred_flat[1:], pred_flat[:-1])
    np.logical_or(change[1:], pred_change, out=change[1:])
    heads = np.flatnonzero(change)
    lengths = np.empty_like(heads)
    np.subtract(heads[1:], heads[:-1], out=lengths[:-1])
    lengths[-1] = num_pixels - heads[-1]
    return gt_flat[heads], pred_flat[heads], lengths


def _compact(values: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each value in ``[VOID, *sorted_ids]`` and whether it is there.

    Returns:
        positions (R,) int64 (0 for VOID, k for ``sorted_ids[k - 1]``, undefined
        when absent) and found (R,) bool.
    """
    table = np.concatenate(([VOID_ID], sorted_ids, [-1]))
    positions = np.searchsorted(table[:-1], values)
    found = table[positions] == values
    return positions, found


def pair_counts_numpy(
    gt_flat: np.ndarray, pred_flat: np.ndarray, gt_ids: np.ndarray, pred_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The pair histogram with numpy alone (the reference).

    Args:
        gt_flat: (N,) ground-truth ids (0 = VOID), any integer dtype.
        pred_flat: (N,) predicted ids.
        gt_ids: (G,) int64 listed ground-truth ids, increasing, without 0.
        pred_ids: (P,) int64 listed predicted ids, increasing, without 0.

    Returns:
        counts (G + 2, P + 1) int64 (see the module docstring) and the
        predicted ids present but not listed, (U,) int64 increasing.
    """
    gt_heads, pred_heads, lengths = run_heads(gt_flat, pred_flat)
    gt_rows, gt_found = _compact(gt_heads, gt_ids)
    gt_rows[~gt_found] = gt_ids.size + 1
    pred_cols, pred_found = _compact(pred_heads, pred_ids)
    num_rows, num_cols = gt_ids.size + 2, pred_ids.size + 1
    keys = gt_rows * num_cols + pred_cols
    if pred_found.all():
        unlisted = np.zeros(0, dtype=np.int64)
    else:
        unlisted = np.unique(pred_heads[~pred_found]).astype(np.int64)
        keys, lengths = keys[pred_found], lengths[pred_found]
    counts = np.bincount(keys, weights=lengths, minlength=num_rows * num_cols)
    return counts.astype(np.int64).reshape(num_rows, num_cols), unlisted


BLOCK = 4096  # pixels compared at a time: the flags and both maps' blocks stay in L1
CACHE_SLOTS = 64  # direct-mapped cache of id -> row / column lookups
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing multiplier
_BYTE_ONES = 0x0101010101010101


def _slot_python(sorted_ids: np.ndarray, value: int, missing: int) -> int:
    """0 for VOID, 1 + the position of ``value`` in ``sorted_ids``, or ``missing``."""
    if value == VOID_ID:
        return 0
    lo, hi = 0, sorted_ids.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_ids[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    if lo < sorted_ids.size and sorted_ids[lo] == value:
        return lo + 1
    return missing


def _cache_index_python(value: int) -> np.uint64:
    """The slot of ``value`` in a 64-entry direct-mapped cache (Fibonacci hashing)."""
    return (np.uint64(np.int64(value)) * np.uint64(_GOLDEN)) >> np.uint64(58)


def _count_pairs_python(
    gt: np.ndarray, pred: np.ndarray, gt_ids: np.ndarray, pred_ids: np.ndarray, counts: np.ndarray
) -> None:
    """Add every run's length to its cell of counts (G + 2, P + 2); column P + 1 collects
    predicted ids that are not listed. N >= 1.

    Block by block, a vectorised loop flags the pixels where either map differs
    from the pixel before; the flags are then read eight at a time as one
    64-bit word, so long runs cost almost nothing, and each run head's ids are
    looked up (through small caches) only when they change.
    """
    num_gt, num_pred, n = gt_ids.size, pred_ids.size, gt.size
    gt_keys, gt_slots = np.zeros(CACHE_SLOTS, np.int64), np.zeros(CACHE_SLOTS, np.int64)
    pred_keys, pred_slots = np.zeros(CACHE_SLOTS, np.int64), np.zeros(CACHE_SLOTS, np.int64)
    flags = np.zeros(BLOCK, np.uint8)
    words = flags.view(np.uint64)
    ones = np.uint64(_BYTE_ONES)
    g, p = gt[0], pred[0]
    row = _slot(gt_ids, g, num_gt + 1)
    col = _slot(pred_ids, p, num_pred + 1)
    start = 0
    for block in range(1, n, BLOCK):
        size = min(BLOCK, n - block)
        gt1, gt0 = gt[block : block + size], gt[block - 1 : block - 1 + size]
        pred1, pred0 = pred[block : block + size], pred[block - 1 : block - 1 + size]
        changed = flags[:size]
        for i in range(size):  # slices keep indices non-negative: LLVM vectorises this
            changed[i] = (gt1[i] != gt0[i]) | (pred1[i] != pred0[i])
        num_words = (size + 7) // 8
        for i in range(size, num_words * 8):
            flags[i] = 0
        for w in range(num_words):
            word = words[w]
            while word != 0:
                lowest = word & (~word + np.uint64(1))  # bit 0 of the lowest flagged byte
                below = (lowest - np.uint64(1)) & ones  # bit 0 of every byte below it
                below += below >> np.uint64(32)  # add up those bits: the byte's index
                below += below >> np.uint64(16)
                below += below >> np.uint64(8)
                k = w * 8 + int(below & np.uint64(255))
                word ^= lowest
                counts[row, col] += block + k - start
                start = block + k
                # caches start with key 0 (VOID), whose slot is 0. Written out twice
                # on purpose: as a shared helper numba made this loop 4x slower.
                if gt1[k] != g:
                    g = gt1[k]
                    h = _cache_index(g)
                    if gt_keys[h] == g:
                        row = gt_slots[h]
                    else:
                        row = _slot(gt_ids, g, num_gt + 1)
                        gt_keys[h] = g
                        gt_slots[h] = row
                if pred1[k] != p:
                    p = pred1[k]
                    h = _cache_index(p)
                    if pred_keys[h] == p:
                        col = pred_slots[h]
                    else:
                        col = _slot(pred_ids, p, num_pred + 1)
                        pred_keys[h] = p
                        pred_slots[h] = col
    counts[row, col] += n - start


if numba is not None:
    _slot = numba.njit(inline="always")(_slot_python)
    _cache_index = numba.njit(inline="always")(_cache_index_python)
    _count_pairs = numba.njit(cache=True, nogil=True, boundscheck=False)(_count_pairs_python)
else:  # pragma: no cover - depends on the environment
    _slot, _cache_index, _count_pairs = _slot_python, _cache_index_python, _count_pairs_python


def numba_available() -> bool:
    """Whether the compiled loops are available."""
    return numba is not None


def pair_counts_numba(
    gt_flat: np.ndarray, pred_flat: np.ndarray, gt_ids: np.ndarray, pred_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The pair histogram with compiled loops; same arguments and results as
    :func:`pair_counts_numpy`. The maps must have a dtype in :data:`COMPILED_DTYPES`."""
    for flat in (gt_flat, pred_flat):
        if flat.dtype not in COMPILED_DTYPES:
            raise TypeError(f"maps of dtype {flat.dtype} need pair_counts_numpy")
    gt_ids = np.ascontiguousarray(gt_ids, dtype=np.int64)
    pred_ids = np.ascontiguousarray(pred_ids, dtype=np.int64)
    num_rows, num_cols = gt_ids.size + 2, pred_ids.size + 1
    counts = np.zeros((num_rows, num_cols + 1), np.int64)
    unlisted = np.zeros(0, dtype=np.int64)
    if gt_flat.size:
        gt_flat, pred_flat = np.ascontiguousarray(gt_flat), np.ascontiguousarray(pred_flat)
        _count_pairs(gt_flat, pred_flat, gt_ids, pred_ids, counts)
        if counts[:, num_cols].any():  # only on bad input: name the ids
            listed = np.isin(pred_flat, pred_ids) | (pred_flat == VOID_ID)
            unlisted = np.unique(pred_flat[~listed]).astype(np.int64)
    return np.ascontiguousarray(counts[:, :num_cols]), unlisted


def pair_counts(
    gt_flat: np.ndarray, pred_flat: np.ndarray, gt_ids: np.ndarray, pred_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The pair histogram: :func:`pair_counts_numba` where it applies, else the reference."""
    if (
        numba is not None
        and gt_flat.dtype in COMPILED_DTYPES
        and pred_flat.dtype in COMPILED_DTYPES
    ):
        return pair_counts_numba(gt_flat, pred_flat, gt_ids, pred_ids)
    return pair_counts_numpy(gt_flat, pred_flat, gt_ids, pred_ids)


def warm_up(dtypes: tuple[np.dtype | type, ...] = (np.uint32, np.int32, np.int64)) -> None:
    """Compile the loops for maps of these dtypes now (or load them from numba's cache)."""
    if numba is None:  # pragma: no cover - depends on the environment
        return
    ids = np.array([1], np.int64)
    for dtype in dtypes:
        flat = np.array([0, 1, 1], dtype)
        pair_counts_numba(flat, flat, ids, ids)
