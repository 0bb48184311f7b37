"""High-level API: build a model from a config, run it on an image or a video.

Legend: H/W original image height and width, N detections.

Example:
    >>> from panoptic.apis import init_model, inference_image
    >>> model = init_model("configs/yolact/yolact_r50_fpn_550_coco.py", "yolact_r50.pth")
    >>> result = inference_image(model, "demo.jpg")
    >>> result.pred_instances.boxes  # (N, 4) absolute x1y1x2y2
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from panoptic.engine.checkpoint_io import load_checkpoint_file
from panoptic.models.yolact import Yolact
from panoptic.models.yolact_checkpoint import convert_state_dict, is_authors_layout
from panoptic.registry import MODELS
from panoptic.structures.panoptic_data_sample import PanopticDataSample


def init_model(
    config: str | Path | Config,
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
    cfg_options: Mapping[str, Any] | None = None,
) -> Yolact:
    """Build a model from a config and optionally load a checkpoint.

    A checkpoint in the YOLACT authors' layout (``backbone.layers.*``, ``fpn.*``, ...)
    is converted on the fly (see ``tools/convert_yolact_checkpoint.py``).

    Args:
        config: config file path or a loaded :class:`~mmengine.config.Config`.
        checkpoint: optional ``.pth`` file (``{"state_dict": ...}`` or a bare state dict).
        device: where to put the model.
        cfg_options: dotted-key overrides merged into the config, e.g.
            ``{"model.instance_head.conf_thresh": 0.3}``.

    Returns:
        The model in eval mode, with the config attached as ``model.cfg``.

    Raises:
        FileNotFoundError: if the config or checkpoint file does not exist.
        KeyError: if the checkpoint's keys do not match the model's.
    """
    if not isinstance(config, Config):
        if not Path(config).is_file():
            raise FileNotFoundError(f"config file not found: {config}")
        config = Config.fromfile(str(config))
    if cfg_options:
        config.merge_from_dict(dict(cfg_options))
    with DefaultScope.overwrite_default_scope(config.get("default_scope", "panoptic")):
        model = MODELS.build(config.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint)
    model.cfg = config
    return model.to(device).eval()


def load_checkpoint(model: nn.Module, checkpoint: str | Path) -> None:
    """Load our checkpoint, or the YOLACT authors' one (converted on the fly), strictly.

    Args:
        model: the model to fill.
        checkpoint: path of the ``.pth`` file.

    Raises:
        FileNotFoundError: if the file does not exist.
        KeyError: naming missing and unexpected keys.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    # weights_only loading with the exact allow-list that mmengine's training
    # checkpoints need (HistoryBuffer, numpy scalars); nothing can run code.
    state = load_checkpoint_file(path, map_location="cpu")
    meta = state.get("meta")
    if isinstance(meta, Mapping) and isinstance(meta.get("dataset_meta"), Mapping):
        # label -> category id mapping and names of the data the model was trained on
        model.dataset_meta = dict(meta["dataset_meta"])  # type: ignore[assignment]
    if isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if is_authors_layout(state):
        state = convert_state_dict(state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise KeyError(
            f"{path} does not fit the model: missing {missing[:5]} ({len(missing)}), "
            f"unexpected {unexpected[:5]} ({len(unexpected)})"
        )


def _test_input_size(config: Config) -> tuple[int, int]:
    """(H, W) the network expects at test time: the test pipeline's Resize, else the
    prior base size of the instance head (550 for the authors' configs)."""
    for transform in config.get("test_pipeline", []) or []:
        if transform.get("type") == "Resize" and "scale" in transform:
            width, height = transform["scale"]
            return int(height), int(width)
    size = int(config.model.instance_head.prior_base_size)
    return size, size


def yolact_test_preprocess(
    image_bgr: np.ndarray,
    size: tuple[int, int],
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    bgr_to_rgb: bool,
) -> Tensor:
    """The authors' test-time preprocessing (their ``FastBaseTransform``).

    The BGR uint8 image becomes float and is resized bilinearly
    (``align_corners=False``) to ``size`` without keeping the aspect ratio; the
    channels are reordered to RGB and normalised. ``mean`` and ``std`` are in the
    output channel order, as for ``PanopticDataPreprocessor``; the authors normalise
    in BGR order and reorder afterwards, which is the same arithmetic per element.

    Args:
        image_bgr: (H, W, 3) uint8 BGR image.
        size: (h, w) network input size.
        mean: per-channel means, output order.
        std: per-channel standard deviations, output order.
        bgr_to_rgb: reorder the channels to RGB.

    Returns:
        (1, 3, h, w) float32 network input.
    """
    image = torch.from_numpy(np.ascontiguousarray(image_bgr)).float()  # (H, W, 3)
    image = image.permute(2, 0, 1)[None].contiguous()  # (1, 3, H, W)
    image = F.interpolate(image, size, mode="bilinear", align_corners=False)
    if bgr_to_rgb:
        image = image[:, [2, 1, 0]]
    image = (image - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return image.contiguous()


def read_image(image: str | Path | np.ndarray) -> np.ndarray:
    """A BGR uint8 (H, W, 3) image from a path or an array.

    Raises:
        FileNotFoundError: if a path does not exist or cannot be decoded.
        ValueError: if an array is not (H, W, 3) uint8.
    """
    if isinstance(image, (str, Path)):
        array = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if array is None:
            raise FileNotFoundError(f"cannot read image: {image}")
        return array
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a (H, W, 3) uint8 BGR array, got {image.shape} {image.dtype}")
    return image


@torch.no_grad()
def inference_image(model: Yolact, image: str | Path | np.ndarray) -> PanopticDataSample:
    """Run a model built by :func:`init_model` on one image.

    Args:
        model: the model (its ``cfg`` gives the preprocessing).
        image: a path or a (H, W, 3) uint8 BGR array.

    Returns:
        A :class:`PanopticDataSample` with ``pred_instances`` (``boxes`` (N, 4)
        absolute x1y1x2y2 in the original image, ``labels`` (N,) 0-based thing
        classes, ``scores`` (N,), ``masks`` (N, H, W) bool) and, for panoptic models,
        ``pred_panoptic``.
    """
    image_bgr = read_image(image)
    config = model.cfg
    preprocessor = config.model.data_preprocessor
    size = _test_input_size(config)
    device = next(model.parameters()).device
    inputs = yolact_test_preprocess(
        image_bgr,
        size,
        tuple(preprocessor["mean"]),
        tuple(preprocessor["std"]),
        bool(preprocessor.get("bgr_to_rgb", False)),
    ).to(device)
    sample = PanopticDataSample(
        metainfo={
            "img_path": str(image) if isinstance(image, (str, Path)) else None,
            "ori_shape": tuple(image_bgr.shape[:2]),
            "img_shape": size,
            "pad_shape": size,
            "scale_factor": (size[1] / image_bgr.shape[1], size[0] / image_bgr.shape[0]),
        }
    )
    model.eval()
    return model(inputs, [sample], mode="predict")[0]


def inference_video(
    model: Any, frames: Iterable[str | Path | np.ndarray], video_id: Any = 0
) -> Iterator[PanopticDataSample]:
    """Track through a sequence frame by frame with a video model from :func:`init_model`.

    Streaming: one frame is read, predicted and yielded at a time, and only the
    tracker's state (a few vectors per live track) is carried over, so memory does
    not grow with the sequence length.

    Args:
        model: a video model (e.g. ``VideoPanopticYolact``) with ``new_tracker()``.
        frames: paths or (H, W, 3) uint8 BGR arrays, in temporal order.
        video_id: recorded in each sample's metainfo.

    Yields:
        One :class:`PanopticDataSample` per frame, with ``pred_instances``
        (``instance_ids``: track ids) and ``pred_panoptic`` (thing ids constant per
        track, segments with ``instance_id``); metainfo ``frame_index``.

    Raises:
        TypeError: the model cannot track.
    """
    if not hasattr(model, "new_tracker"):
        raise TypeError(f"{type(model).__name__} cannot track; use a video config")
    tracker = model.new_tracker()
    config = model.cfg
    preprocessor = config.model.data_preprocessor
    size = _test_input_size(config)
    device = next(model.parameters()).device
    model.eval()
    for frame_index, frame in enumerate(frames):
        image_bgr = read_image(frame)
        inputs = yolact_test_preprocess(
            image_bgr,
            size,
            tuple(preprocessor["mean"]),
            tuple(preprocessor["std"]),
            bool(preprocessor.get("bgr_to_rgb", False)),
        ).to(device)
        sample = PanopticDataSample(
            metainfo={
                "img_path": str(frame) if isinstance(frame, (str, Path)) else None,
                "ori_shape": tuple(image_bgr.shape[:2]),
                "img_shape": size,
                "pad_shape": size,
                "scale_factor": (size[1] / image_bgr.shape[1], size[0] / image_bgr.shape[0]),
                "video_id": video_id,
                "frame_index": frame_index,
            }
        )
        with torch.no_grad():
            yield model.predict(inputs, [sample], tracker=tracker)[0]
