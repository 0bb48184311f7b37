"""The registries: children of mmengine's roots, lazy locations, helpful errors."""

from __future__ import annotations

import pytest
from mmengine.registry import MODELS as ROOT_MODELS

from panoptic.registry import HOOKS, METRICS, MODELS, PanopticRegistry


def test_registries_are_children_of_mmengine_roots() -> None:
    assert MODELS.parent is ROOT_MODELS
    assert MODELS.scope == "panoptic"
    assert ROOT_MODELS.children["panoptic"] is MODELS
    for registry in (MODELS, METRICS, HOOKS):
        assert isinstance(registry, PanopticRegistry)
        assert registry._locations


def test_unknown_type_lists_close_names() -> None:
    with pytest.raises(KeyError, match=r"Did you mean: .*SemanticHead"):
        MODELS.build(dict(type="SemanticHed"))
    assert MODELS.get("SemanticHead").__name__ == "SemanticHead"


def test_unknown_type_without_close_names_still_fails_clearly() -> None:
    with pytest.raises(KeyError, match="is not registered"):
        MODELS.build(dict(type="CompletelyUnrelatedName123"))


def test_root_registry_switches_to_our_scope() -> None:
    """mmengine's Runner builds through the root registry with default_scope='panoptic'."""
    from mmengine.registry import DefaultScope

    with (
        DefaultScope.overwrite_default_scope("panoptic"),
        pytest.raises(KeyError, match="is not registered"),
    ):
        ROOT_MODELS.build(dict(type="NoSuchComponentAnywhere"))
