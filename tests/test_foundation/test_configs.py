"""Every config under configs/ loads, every ``type`` in it resolves, and its model builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mmengine.registry as root
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from panoptic import registry as ours

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
CONFIGS = sorted(CONFIG_DIR.rglob("*.py"))

# Registries a config's ``type`` may come from: ours first, then mmengine's roots.
REGISTRIES = [
    ours.MODELS,
    ours.DATASETS,
    ours.TRANSFORMS,
    ours.METRICS,
    ours.HOOKS,
    ours.VISUALIZERS,
    root.OPTIMIZERS,
    root.OPTIM_WRAPPERS,
    root.PARAM_SCHEDULERS,
    root.LOOPS,
    root.LOG_PROCESSORS,
    root.DATA_SAMPLERS,
    root.FUNCTIONS,
    root.VISBACKENDS,
    root.MODEL_WRAPPERS,
    root.EVALUATOR,
]


def resolves(type_name: str) -> bool:
    for registry in REGISTRIES:
        try:
            if registry.get(type_name) is not None:
                return True
        except KeyError:
            continue
    return False


def collect_types(node: Any, key_path: str = "") -> list[tuple[str, str]]:
    """All (key path, type name) pairs of string ``type`` entries in a config tree."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            found.append((key_path or "<root>", node["type"]))
        for key, value in node.items():
            found += collect_types(value, f"{key_path}.{key}" if key_path else str(key))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            found += collect_types(value, f"{key_path}[{index}]")
    return found


def test_there_are_configs() -> None:
    assert CONFIGS, "no configs found under configs/"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_config_builds(path: Path) -> None:
    cfg = Config.fromfile(str(path))
    if not path.is_relative_to(CONFIG_DIR / "_base_"):
        assert cfg.get("default_scope") == "panoptic", "leaf configs set default_scope='panoptic'"
    with DefaultScope.overwrite_default_scope("panoptic"):
        unresolved = [(k, t) for k, t in collect_types(cfg.to_dict()) if not resolves(t)]
        assert not unresolved, f"unknown types in {path.name}: {unresolved}"
        if "model" in cfg and isinstance(cfg.model, dict) and "type" in cfg.model:
            model = ours.MODELS.build(cfg.model)
            assert sum(p.numel() for p in model.parameters()) > 0
