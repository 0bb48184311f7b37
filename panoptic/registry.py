"""Registries of the project, children of mmengine's root registries.

mmengine's Runner builds everything through its root registries; with
``default_scope = "panoptic"`` in a config it switches to these children, which
import their ``locations`` lazily on first look-up. An unknown ``type`` fails
with a message that lists the closest registered names.
"""

from __future__ import annotations

import difflib
from typing import Any

from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

SCOPE = "panoptic"


class PanopticRegistry(Registry):
    """A registry whose failed look-ups name the closest registered keys."""

    def registered_names(self) -> list[str]:
        """All names reachable from this registry: its own and its ancestors'."""
        self.import_from_location()
        names: set[str] = set()
        registry: Registry | None = self
        while registry is not None:
            names.update(registry.module_dict)
            registry = registry.parent
        return sorted(names)

    def get(self, key: str) -> Any:
        obj = super().get(key)
        if obj is None and isinstance(key, str) and "." not in key:
            close = difflib.get_close_matches(key, self.registered_names(), n=5, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            where = f"{self.scope}::{self.name}"
            raise KeyError(f"'{key}' is not registered in the {where} registry.{hint}")
        return obj


MODELS = PanopticRegistry(
    "model", parent=MMENGINE_MODELS, scope=SCOPE, locations=["panoptic.models", "panoptic.data"]
)
DATASETS = PanopticRegistry(
    "dataset", parent=MMENGINE_DATASETS, scope=SCOPE, locations=["panoptic.data"]
)
TRANSFORMS = PanopticRegistry(
    "transform", parent=MMENGINE_TRANSFORMS, scope=SCOPE, locations=["panoptic.data"]
)
METRICS = PanopticRegistry(
    "metric",
    parent=MMENGINE_METRICS,
    scope=SCOPE,
    locations=[  # the modules themselves: panoptic.evaluation imports its names lazily
        "panoptic.evaluation.panoptic_metric",
        "panoptic.evaluation.instance_metric",
        "panoptic.evaluation.video_metric",
    ],
)
HOOKS = PanopticRegistry("hook", parent=MMENGINE_HOOKS, scope=SCOPE, locations=["panoptic.engine"])
VISUALIZERS = PanopticRegistry(
    "visualizer", parent=MMENGINE_VISUALIZERS, scope=SCOPE, locations=["panoptic.visualization"]
)
