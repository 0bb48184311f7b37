"""Checkpoint reading with ``weights_only=True`` and atomic file writing.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: its unpickler
only rebuilds tensors, containers and an explicit allow-list of globals. The
checkpoints of mmengine 0.10.7 hold more than that:

* the message hub's ``HistoryBuffer`` objects, whose ``__getstate__`` also
  pickles the class-wide ``_statistics_methods`` (functions, reached through
  ``builtins.getattr``; allow-listing ``getattr`` would let a checkpoint call
  any attribute of any allowed object, which defeats ``weights_only``);
* numpy arrays, dtypes and scalars (log histories, best scores, RNG state).

This module makes such checkpoints loadable with ``weights_only=True`` by

1. pickling ``HistoryBuffer`` without ``statistics_methods``. The methods live
   on the class (registered at import time by ``register_statistics``) and
   ``HistoryBuffer.__setstate__`` restores the defaults, so nothing is lost;
2. allow-listing exactly :data:`SAFE_GLOBALS` and nothing else;
3. replacing mmengine's loader for local paths by :func:`load_checkpoint_file`.

Writes go through :func:`atomic_write_bytes`: a temporary file in the same
folder, ``fsync``, ``os.replace`` and an ``fsync`` of the folder, so a reader
(or a resume after ``kill -9``) sees either the old file or the new one, never
a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

# numpy 2 keeps the pickling helpers in ``numpy._core``; numpy 1 in ``numpy.core``.
_np_multiarray = getattr(np, "_core", None) or np.core  # type: ignore[attr-defined]

SAFE_GLOBALS: list[Any] = [
    HistoryBuffer,
    np.ndarray,
    np.dtype,
    _np_multiarray.multiarray._reconstruct,
    _np_multiarray.multiarray.scalar,
    # numpy 2 pickles a dtype through its class (``numpy.dtypes.Float64DType``).
    *(
        type(np.dtype(name))
        for name in (
            "bool",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "float16",
            "float32",
            "float64",
        )
    ),
]
"""Every global a project checkpoint may reference besides torch's own."""


def _history_buffer_getstate(self: HistoryBuffer) -> dict[str, Any]:
    """``HistoryBuffer`` state without the class-wide statistics functions."""
    return {key: value for key, value in self.__dict__.items() if key != "statistics_methods"}


def install_history_buffer_pickling() -> None:
    """Make ``HistoryBuffer`` pickle only its data (idempotent).

    The replacement also drops a ``statistics_methods`` key that mmengine's own
    ``__getstate__`` may have left in an instance ``__dict__`` earlier.
    """
    HistoryBuffer.__getstate__ = _history_buffer_getstate  # type: ignore[method-assign]


def load_checkpoint_file(
    filename: str | Path, map_location: str | torch.device | Callable | None = None
) -> Any:
    """Load a local checkpoint with ``weights_only=True`` and :data:`SAFE_GLOBALS`.

    Args:
        filename: Path of the ``.pth`` file.
        map_location: As for :func:`torch.load`.

    Returns:
        The unpickled checkpoint (usually a dict).

    Raises:
        FileNotFoundError: If ``filename`` does not exist.
        pickle.UnpicklingError: If the file references a global outside the
            allow-list (the message names it).
    """
    path = Path(os.path.expanduser(str(filename)))
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} can not be found.")
    allow_safe_globals()
    return torch.load(path, map_location=map_location, weights_only=True)


def allow_safe_globals() -> None:
    """Add the missing entries of :data:`SAFE_GLOBALS` to torch's process-wide allow-list.

    (torch's ``safe_globals`` context manager would remove them again on exit,
    also when an earlier caller had added them for good.)
    """
    allowed = torch.serialization.get_safe_globals()
    missing = [g for g in SAFE_GLOBALS if g not in allowed]
    if missing:
        torch.serialization.add_safe_globals(missing)


def install_safe_checkpoint_loader() -> None:
    """Route mmengine's loading of local paths through :func:`load_checkpoint_file`.

    Also adds :data:`SAFE_GLOBALS` to torch's process-wide allow-list, so that a
    plain ``torch.load(path, weights_only=True)`` elsewhere reads project
    checkpoints too (the list is the same; nothing else is allowed).
    """
    CheckpointLoader.register_scheme(prefixes="", loader=load_checkpoint_file, force=True)
    allow_safe_globals()


def atomic_write_bytes(data: bytes, path: str | Path) -> None:
    """Write ``data`` to ``path`` so that ``path`` is always old or new, never partial.

    Args:
        data: The file content.
        path: Destination; its folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(text: str, path: str | Path) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(text.encode("utf-8"), path)


def commit_file(tmp_path: str | Path, path: str | Path) -> None:
    """Move a fully written ``tmp_path`` onto ``path`` durably (fsync, rename, fsync dir).

    Args:
        tmp_path: A complete file in the same folder as ``path``.
        path: Destination, replaced atomically.
    """
    with open(tmp_path, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_dir(Path(path).parent)


def _fsync_dir(folder: Path) -> None:
    """Persist a rename: fsync the folder entry (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
