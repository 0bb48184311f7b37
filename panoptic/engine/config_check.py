"""Find config mistakes before training starts, naming the config key.

mmengine builds most components lazily (datasets when the loop starts, the
validation metrics at the first validation), so a typo in a ``type`` or a
keyword can surface after an hour of training. :func:`check_config` walks the
whole config tree up front, resolves every ``type`` in the registry the key
belongs to, and checks every keyword against the component's signature.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import mmengine.registry as mm_registry
from mmengine.config import Config
from mmengine.registry import Registry
from torch.utils.data import DataLoader

import panoptic.registry  # noqa: F401  (creates the project's child registries)

# Keys inside a component whose ``type`` lives in another registry than the
# component's own. Any other key inherits its parent's (``model.backbone`` is a model).
_NESTED_REGISTRIES: dict[str, Registry] = {
    "data_preprocessor": mm_registry.MODELS,
    "dataset": mm_registry.DATASETS,
    "datasets": mm_registry.DATASETS,
    "pipeline": mm_registry.TRANSFORMS,
    "transforms": mm_registry.TRANSFORMS,
    "sampler": mm_registry.DATA_SAMPLERS,
    "batch_sampler": mm_registry.DATA_SAMPLERS,
    "collate_fn": mm_registry.FUNCTIONS,
    "metrics": mm_registry.METRICS,
    "optimizer": mm_registry.OPTIMIZERS,
    "init_cfg": mm_registry.WEIGHT_INITIALIZERS,
    "vis_backends": mm_registry.VISBACKENDS,
}

# Top-level config keys the Runner builds, and the registry of their ``type``.
_TOP_LEVEL_REGISTRIES: dict[str, Registry] = {
    **_NESTED_REGISTRIES,
    "model": mm_registry.MODELS,
    "train_dataloader": mm_registry.DATASETS,
    "val_dataloader": mm_registry.DATASETS,
    "test_dataloader": mm_registry.DATASETS,
    "val_evaluator": mm_registry.METRICS,
    "test_evaluator": mm_registry.METRICS,
    "metrics": mm_registry.METRICS,
    "default_hooks": mm_registry.HOOKS,
    "custom_hooks": mm_registry.HOOKS,
    "optim_wrapper": mm_registry.OPTIM_WRAPPERS,
    "param_scheduler": mm_registry.PARAM_SCHEDULERS,
    "train_cfg": mm_registry.LOOPS,
    "val_cfg": mm_registry.LOOPS,
    "test_cfg": mm_registry.LOOPS,
    "visualizer": mm_registry.VISUALIZERS,
    "log_processor": mm_registry.LOG_PROCESSORS,
    "model_wrapper_cfg": mm_registry.MODEL_WRAPPERS,
}

# Top-level sections whose ``type`` mmengine fills in itself when it is absent.
_DEFAULT_TYPES: dict[str, str] = {
    "optim_wrapper": "OptimWrapper",
    "log_processor": "LogProcessor",
    "model_wrapper_cfg": "MMDistributedDataParallel",
}

# Arguments that a builder passes itself; a config must not be blamed for lacking them
# and may not set them either, so they are simply not checked.
_INJECTED_ARGS = {"self", "runner", "dataloader", "optimizer", "params", "dataset", "module"}

# Keys that mmengine's builders consume before calling the constructor.
_BUILDER_ARGS = {"paramwise_cfg", "constructor", "num_batch_per_epoch", "worker_init_fn"}


class ConfigError(ValueError):
    """A config names an unknown component type or keyword; lists every problem."""


def check_config(cfg: Config | Mapping[str, Any]) -> None:
    """Resolve every component ``type`` and keyword in ``cfg``.

    Args:
        cfg: A loaded config (``default_scope`` picks the project registries).

    Raises:
        ConfigError: Naming each offending key path (``model.backbone.depht``)
            with the closest valid names.
    """
    scope = cfg.get("default_scope") or "mmengine"
    problems: list[str] = []
    for key, value in cfg.items():
        if key in _TOP_LEVEL_REGISTRIES:
            registry = _TOP_LEVEL_REGISTRIES[key]
            problems.extend(_check_node(value, key, registry, scope, top_key=key))
        if key.endswith("_dataloader") and isinstance(value, Mapping):
            problems.extend(_check_keywords(DataLoader, value, key))
    if problems:
        raise ConfigError("config mistakes found before training:\n  " + "\n  ".join(problems))


def _check_node(
    node: Any, path: str, registry: Registry, scope: str, top_key: str | None = None
) -> Iterator[str]:
    """Yield the problems in ``node`` (a component dict, a list of them, or a section)."""
    if isinstance(node, list | tuple):
        for index, item in enumerate(node):
            yield from _check_node(item, f"{path}[{index}]", registry, scope)
        return
    if not isinstance(node, Mapping):
        return
    if "type" not in node and top_key not in _DEFAULT_TYPES:
        # A plain section (``default_hooks``, a dataloader, ``model.test_cfg``): its values
        # may be components of this key's registry or of their own key's.
        for key, value in node.items():
            child_registry = _NESTED_REGISTRIES.get(key, registry)
            yield from _check_node(value, f"{path}.{key}", child_registry, scope)
        return

    component_type = node.get("type", _DEFAULT_TYPES.get(top_key or ""))
    target, problem = _resolve(component_type, registry, scope)
    if problem is not None:
        yield f"{path}.type: {problem}"
        return
    yield from _check_keywords(target, node, path)
    for key, value in node.items():
        if key != "type":
            child_registry = _NESTED_REGISTRIES.get(key, registry)
            yield from _check_node(value, f"{path}.{key}", child_registry, scope)


def _resolve(component_type: Any, registry: Registry, scope: str) -> tuple[Any, str | None]:
    """Find the class or function behind ``component_type`` (a name or the object itself)."""
    if not isinstance(component_type, str):
        if callable(component_type):
            return component_type, None
        return None, f"must be a registered name or a class, got {component_type!r}"
    scoped = registry.children.get(scope, registry) if scope != registry.scope else registry
    try:
        target = scoped.get(component_type)
    except KeyError as error:
        return None, str(error.args[0]) if error.args else str(error)
    if target is not None:
        return target, None
    close = difflib.get_close_matches(component_type, _all_names(scoped), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    where = f"{scoped.scope}::{scoped.name}"
    return None, f"'{component_type}' is not registered in the {where} registry.{hint}"


def _all_names(registry: Registry) -> list[str]:
    registry.import_from_location()
    names: set[str] = set()
    current: Registry | None = registry
    while current is not None:
        names.update(current.module_dict)
        current = current.parent
    return sorted(names)


def _accepted_keywords(target: Callable) -> list[str] | None:
    """Keyword names ``target`` accepts, or ``None`` if it takes any keyword.

    For a class whose ``__init__`` hands its ``**kwargs`` to
    ``super().__init__``, the parent's keywords are followed along the MRO
    until an ``__init__`` without ``**kwargs`` closes the list. A ``**kwargs``
    consumed any other way accepts anything.
    """
    functions: list[Callable] = []
    if inspect.isclass(target):
        inits = (vars(klass).get("__init__") for klass in target.__mro__)
        functions = [init for init in inits if init is not None]
    else:
        functions = [target]
    accepted: list[str] = []
    for function in functions:
        if function is object.__init__:
            return None
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            return None
        accepted += [
            name
            for name, p in parameters.items()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and name not in accepted
        ]
        var_keyword = [p.name for p in parameters.values() if p.kind is p.VAR_KEYWORD]
        if not var_keyword:
            return accepted
        if not _forwards_to_super(function, var_keyword[0]):
            return None
    return None


def _forwards_to_super(function: Callable, var_keyword: str) -> bool:
    """Whether ``function``'s source passes ``**var_keyword`` to ``super().__init__``."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    call = "super().__init__("
    start = source.find(call)
    while start >= 0:
        depth, end = 1, start + len(call)
        while end < len(source) and depth:
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            end += 1
        if f"**{var_keyword}" in source[start:end]:
            return True
        start = source.find(call, end)
    return False


def _check_keywords(target: Callable, node: Mapping[str, Any], path: str) -> Iterator[str]:
    """Yield one problem per keyword of ``node`` that ``target`` does not accept."""
    accepted = _accepted_keywords(target)
    if accepted is None:
        return
    name = getattr(target, "__name__", repr(target))
    for key in node:
        if key == "type" or key in accepted or key in _INJECTED_ARGS or key in _BUILDER_ARGS:
            continue
        close = difflib.get_close_matches(key, accepted, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        shown = ", ".join(a for a in accepted if a not in _INJECTED_ARGS)
        yield f"{path}.{key}: {name} has no keyword '{key}' (it takes: {shown}).{hint}"
