"""mmengine glue: checkpoint safety, NaN guard, config checks, precision and launchers.

Importing this package registers the hooks (``AtomicCheckpointHook``,
``NanGuardHook``, ``RNGStateHook``, ``ChannelsLastHook``, ``DatasetMetaHook``), the
``GuardedOptimWrapper`` and the ``ResumableIterBasedTrainLoop``, and makes
every checkpoint load of mmengine use ``weights_only=True`` with the project's
allow-list (see :mod:`panoptic.engine.checkpoint_io`).
"""

from panoptic.engine.atomic_checkpoint_hook import AtomicCheckpointHook
from panoptic.engine.channels_last_hook import ChannelsLastHook
from panoptic.engine.checkpoint_io import (
    SAFE_GLOBALS,
    install_history_buffer_pickling,
    install_safe_checkpoint_loader,
    load_checkpoint_file,
)
from panoptic.engine.config_check import ConfigError, check_config
from panoptic.engine.dataset_meta_hook import DatasetMetaHook
from panoptic.engine.guarded_optim_wrapper import GuardedOptimWrapper
from panoptic.engine.nan_guard_hook import NanGuardHook
from panoptic.engine.resumable_train_loop import ResumableIterBasedTrainLoop
from panoptic.engine.rng_state_hook import RNGStateHook

install_history_buffer_pickling()
install_safe_checkpoint_loader()

__all__ = [
    "SAFE_GLOBALS",
    "AtomicCheckpointHook",
    "ChannelsLastHook",
    "ConfigError",
    "DatasetMetaHook",
    "GuardedOptimWrapper",
    "NanGuardHook",
    "RNGStateHook",
    "ResumableIterBasedTrainLoop",
    "check_config",
    "load_checkpoint_file",
]
