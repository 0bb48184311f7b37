"""Label conventions derived from a list of COCO panoptic categories.

Thing categories get contiguous labels ``0..T-1`` in JSON order, stuff
categories follow with ``T..T+S-1``; VOID is ``IGNORE_INDEX`` (255).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

REQUIRED_CATEGORY_KEYS = ("id", "name", "isthing")


def validate_categories(categories: Sequence[dict[str, Any]], source: str) -> None:
    """Check the category dicts that label conventions rely on.

    Args:
        categories: COCO panoptic category dicts.
        source: the file (or config) they come from, named in errors.

    Raises:
        ValueError: a key is missing, an id repeats, or the list is empty.
    """
    if not categories:
        raise ValueError(f"{source}: 'categories' is empty or missing")
    seen: set[int] = set()
    for k, cat in enumerate(categories):
        for key in REQUIRED_CATEGORY_KEYS:
            if key not in cat:
                raise ValueError(f"{source}: category #{k} ({cat.get('name', '?')}) lacks '{key}'")
        if cat["id"] in seen:
            raise ValueError(f"{source}: category id {cat['id']} appears twice")
        seen.add(cat["id"])


def category_metainfo(categories: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Build the dataset ``metainfo`` from COCO panoptic categories.

    Args:
        categories: dicts with ``id``, ``name``, ``isthing`` (and ``color``), in
            the order of the annotation file.

    Returns:
        ``categories`` (copied, ``isthing`` as int and a ``color`` for each),
        ``thing_classes``, ``stuff_classes``, ``classes`` (things then stuff),
        ``label2cat`` (semantic label -> category id) and ``cat2label``.
    """
    cats = []
    for cat in categories:
        cat = dict(cat)
        cat["isthing"] = int(cat["isthing"])
        cat.setdefault("color", default_color(int(cat["id"])))
        cat["color"] = [int(c) for c in cat["color"]]
        cats.append(cat)
    things = [c for c in cats if c["isthing"]]
    stuff = [c for c in cats if not c["isthing"]]
    ordered = things + stuff
    label2cat = {label: int(c["id"]) for label, c in enumerate(ordered)}
    return dict(
        categories=cats,
        thing_classes=tuple(c["name"] for c in things),
        stuff_classes=tuple(c["name"] for c in stuff),
        classes=tuple(c["name"] for c in ordered),
        label2cat=label2cat,
        cat2label={cat_id: label for label, cat_id in label2cat.items()},
    )


def default_color(category_id: int) -> list[int]:
    """A deterministic, well-spread RGB colour for a category without one."""
    golden = 0.618033988749895
    hue = (category_id * golden) % 1.0
    sector = int(hue * 6)
    frac = hue * 6 - sector
    v, p, q, t = 230, 60, int(230 - 170 * frac), int(60 + 170 * frac)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][sector % 6]
    return list(rgb)
