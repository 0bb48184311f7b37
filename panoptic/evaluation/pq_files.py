"""PQ from COCO panoptic files: the inputs of panopticapi's ``pq_compute``, faster.

PNGs are decoded by :mod:`panoptic.evaluation.png` (libdeflate and a
numba-compiled filter loop) when numba is installed, else with ``imagecodecs``
(libpng) or OpenCV, and turned into ids with one colour conversion (RGB to
RGBA, read as little-endian uint32, alpha masked off); the JSON files are
parsed with ``orjson`` when installed. Each image is matched by
:func:`panoptic.evaluation.pq.pq_image`. A pool of worker processes takes small
chunks of images; the parent adds the per-image counts in image order, grouped
as panopticapi groups them for the same number of processes, so the numbers
equal panopticapi's bit for bit.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from panoptic.evaluation import png
from panoptic.evaluation.pair_counts import warm_up as warm_up_pair_counts
from panoptic.evaluation.pq import (
    ImagePQ,
    PQAccumulator,
    concat_images,
    pq_image,
    slice_images,
)

try:  # optional accelerators: imagecodecs decodes PNGs about 1.5x faster than OpenCV here
    import imagecodecs
except ImportError:  # pragma: no cover - depends on the environment
    imagecodecs = None  # type: ignore[assignment]
try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None  # type: ignore[assignment]

ID_MASK = 0xFFFFFF
CHUNK_SIZE = 16
PNG_DECODERS = ("numba", "imagecodecs", "opencv")


def default_png_decoder() -> str:
    """The fastest installed: ``"numba"`` (:mod:`panoptic.evaluation.png`), ``"imagecodecs"``
    (libpng) or ``"opencv"``."""
    if png.numba_available():
        return "numba"
    return "imagecodecs" if imagecodecs is not None else "opencv"


def check_png_decoder(decoder: str | None) -> str:
    """The decoder to use: ``decoder``, or the default when None.

    Raises:
        ValueError: an unknown name. ImportError: imagecodecs asked for but missing.
    """
    decoder = decoder or default_png_decoder()
    if decoder not in PNG_DECODERS:
        raise ValueError(f"unknown PNG decoder {decoder!r}; choose from {PNG_DECODERS}")
    if decoder == "imagecodecs" and imagecodecs is None:
        raise ImportError("the PNG decoder 'imagecodecs' needs: pip install imagecodecs")
    if decoder == "numba" and not png.numba_available():
        raise ImportError("the PNG decoder 'numba' needs: pip install numba")
    return decoder


def _decode_rgb(data: bytes, decoder: str) -> np.ndarray:
    """Decode PNG bytes to (H, W, 3) RGB or (H, W, 4) RGBA uint8; other layouts as decoded."""
    if decoder == "numba":
        try:
            return png.decode_png_rgb(data)
        except png.UnsupportedPngError:  # a layout panoptic PNGs do not use: the general decoders
            decoder = "imagecodecs" if imagecodecs is not None else "opencv"
    if decoder == "imagecodecs":
        return np.asarray(imagecodecs.png_decode(data))
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("OpenCV cannot decode it")
    if image.ndim == 3 and image.shape[2] in (3, 4) and image.dtype == np.uint8:
        code = cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
        image = cv2.cvtColor(image, code)
    return image


def decode_panoptic_png(
    data: bytes, image_id: Any = None, path: str | Path = "", decoder: str | None = None
) -> np.ndarray:
    """Decode a COCO panoptic PNG to an (H, W) uint32 id map (``R + 256 G + 256^2 B``).

    Args:
        data: the PNG file's bytes.
        image_id: named in error messages.
        path: named in error messages.
        decoder: ``"numba"``, ``"imagecodecs"`` or ``"opencv"`` (same ids);
            default :func:`default_png_decoder`.

    Raises:
        ValueError: the bytes are not a PNG, or not 8-bit RGB or RGBA (an alpha
            channel is ignored, as panopticapi ignores it), or an unknown decoder.
        ImportError: ``decoder="imagecodecs"`` without that package.
    """
    decoder = check_png_decoder(decoder)
    where = f"In the image with ID {image_id} the PNG {path}"
    try:
        image = _decode_rgb(data, decoder)
    except (RuntimeError, ValueError) as err:  # imagecodecs' errors derive from RuntimeError
        raise ValueError(f"{where} cannot be decoded ({err}).") from None
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(
            f"{where} is not an 8-bit RGB or RGBA image (decoded as {image.dtype} with shape "
            f"{image.shape}); panoptic PNGs store ids as R + 256 G + 256^2 B."
        )
    if image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)  # one fast pass: 4 bytes a pixel
    else:
        image = np.ascontiguousarray(image)
    ids = image.view("<u4")[..., 0]  # (H, W): R + 2^8 G + 2^16 B + 2^24 A
    np.bitwise_and(ids, ID_MASK, out=ids)
    return ids


def read_panoptic_ids(
    path: str | Path, image_id: Any = None, decoder: str | None = None
) -> np.ndarray:
    """Read a COCO panoptic PNG as an (H, W) uint32 id map (``R + 256 G + 256^2 B``).

    Args:
        path: the PNG.
        image_id: named in error messages.
        decoder: see :func:`decode_panoptic_png`.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file cannot be decoded, or is not 8-bit RGB(A).
    """
    try:
        data = Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise FileNotFoundError(
            f"In the image with ID {image_id} the PNG {path} does not exist."
        ) from None
    return decode_panoptic_png(data, image_id, path, decoder)


@contextlib.contextmanager
def single_threaded_opencv() -> Iterator[None]:
    """Run OpenCV's calls inline for a while (its thread count is restored afterwards).

    On this 2-core machine OpenCV's thread pool spins between the small
    ``cvtColor`` calls of PNG decoding: that cost 0.66 ms of CPU per image pair,
    as much as the decoding itself. Set it in the parent before forking workers,
    which inherit it; calling ``cv2.setNumThreads`` inside a forked worker can
    deadlock.
    """
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def _parse_json(path: Path) -> Any:
    """Parse a JSON file with the garbage collector paused.

    A panoptic JSON holds tens of thousands of small dicts; every batch of new
    containers would start a collection that walks all of the process's objects
    (about 10x the parse time in a process that has imported numpy and OpenCV).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        if orjson is not None:
            return orjson.loads(path.read_bytes())
        with open(path) as f:
            return json.load(f)
    finally:
        if enabled:
            gc.enable()


def load_json(path: str | Path, what: str) -> dict[str, Any]:
    """Load a COCO panoptic JSON with ``annotations``, naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} JSON {path} does not exist")
    try:
        data = _parse_json(path)
    except ValueError as err:  # json.JSONDecodeError and orjson.JSONDecodeError
        raise ValueError(f"{what} JSON {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or "annotations" not in data:
        raise ValueError(f"{what} JSON {path} has no 'annotations' list")
    return data


def match_annotations(
    gt_json: dict[str, Any], pred_json: dict[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pair every ground-truth annotation with the prediction of the same image.

    Predictions of images absent from the ground truth are ignored, as panopticapi does.

    Raises:
        KeyError: an image has no prediction, or two predictions.
    """
    pred_by_image: dict[Any, dict[str, Any]] = {}
    for annotation in pred_json["annotations"]:
        image_id = annotation["image_id"]
        if image_id in pred_by_image:
            raise KeyError(f"two predictions for the image with id: {image_id}")
        pred_by_image[image_id] = annotation
    pairs = []
    for gt_annotation in gt_json["annotations"]:
        image_id = gt_annotation["image_id"]
        if image_id not in pred_by_image:
            raise KeyError(f"no prediction for the image with id: {image_id}")
        pairs.append((gt_annotation, pred_by_image[image_id]))
    return pairs


def evaluate_pair(
    gt_annotation: dict[str, Any],
    pred_annotation: dict[str, Any],
    gt_dir: str | Path,
    pred_dir: str | Path,
    category_ids: Iterable[int],
    decoder: str | None = None,
) -> ImagePQ:
    """Read one image's two PNGs and match them (see :func:`pq_image`)."""
    image_id = gt_annotation["image_id"]
    gt_map = read_panoptic_ids(Path(gt_dir) / gt_annotation["file_name"], image_id, decoder)
    pred_map = read_panoptic_ids(Path(pred_dir) / pred_annotation["file_name"], image_id, decoder)
    return pq_image(
        gt_map,
        gt_annotation["segments_info"],
        pred_map,
        pred_annotation["segments_info"],
        category_ids,
        image_id,
    )


_WORKER: dict[str, Any] = {}  # set in each worker process by _init_worker


def _init_worker(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    gt_dir: str,
    pred_dir: str,
    known: frozenset,
    decoder: str,
) -> None:
    # Forked workers receive these arguments through the fork, without pickling.
    _WORKER.update(pairs=pairs, gt_dir=gt_dir, pred_dir=pred_dir, known=known, decoder=decoder)


def _evaluate_range(span: tuple[int, int]) -> tuple[ImagePQ, np.ndarray]:
    """Images ``start..stop-1`` of the worker's pairs, joined (few arrays to send back)."""
    start, stop = span
    gt_dir, pred_dir, known = _WORKER["gt_dir"], _WORKER["pred_dir"], _WORKER["known"]
    decoder = _WORKER["decoder"]
    return concat_images(
        [
            evaluate_pair(gt, pred, gt_dir, pred_dir, known, decoder)
            for gt, pred in _WORKER["pairs"][start:stop]
        ]
    )


def evaluate_panoptic_files(
    gt_json: str | Path,
    gt_dir: str | Path,
    pred_json: str | Path,
    pred_dir: str | Path,
    workers: int = 1,
    progress: bool = True,
    decoder: str | None = None,
) -> tuple[dict[str, Any], PQAccumulator]:
    """PQ of COCO panoptic predictions against COCO panoptic ground truth.

    Args:
        gt_json: ground-truth JSON (``annotations``, ``categories``).
        gt_dir: folder of the ground-truth PNGs.
        pred_json: prediction JSON (``annotations`` with ``image_id``,
            ``file_name``, ``segments_info``).
        pred_dir: folder of the predicted PNGs.
        workers: worker processes (1 = in this process).
        progress: show a progress bar.
        decoder: PNG decoder, ``"numba"``, ``"imagecodecs"`` or ``"opencv"``
            (same ids); default :func:`default_png_decoder`.

    Returns:
        The results in panopticapi's shape (see :meth:`PQAccumulator.results`)
        and the accumulator with the per-category counts.

    Raises:
        FileNotFoundError: a JSON, folder or PNG is missing.
        KeyError: an image lacks a prediction, or a prediction's ids or
            categories disagree with its PNG (the message names the image).
        ValueError: an image's two PNGs differ in size.
    """
    decoder = check_png_decoder(decoder)
    gt_data = load_json(gt_json, "ground-truth")
    pred_data = load_json(pred_json, "prediction")
    for folder, what in ((gt_dir, "ground-truth"), (pred_dir, "prediction")):
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"{what} PNG folder {folder} does not exist")
    if not gt_data.get("categories"):
        raise ValueError(f"ground-truth JSON {gt_json} has no 'categories'")
    categories = list({int(c["id"]): c for c in gt_data["categories"]}.values())
    category_ids = [int(c["id"]) for c in categories]
    pairs = match_annotations(gt_data, pred_data)
    spans = [
        (start, min(start + CHUNK_SIZE, len(pairs))) for start in range(0, len(pairs), CHUNK_SIZE)
    ]
    init_args = (pairs, str(gt_dir), str(pred_dir), frozenset(category_ids), decoder)

    if decoder == "numba":
        png.warm_up()  # compiled once here, not once per forked worker
    warm_up_pair_counts((np.dtype(np.uint32),))
    chunks: list[tuple[ImagePQ, np.ndarray]] = []
    with (
        single_threaded_opencv(),
        tqdm(total=len(pairs), desc="PQ", unit="img", disable=not progress) as bar,
    ):
        if workers <= 1:
            _init_worker(*init_args)
            try:
                for span in spans:
                    chunks.append(_evaluate_range(span))
                    bar.update(span[1] - span[0])
            finally:
                _WORKER.clear()
        else:
            # Objects frozen before the fork are never traversed by the workers'
            # garbage collector, so the workers do not copy the parent's heap.
            gc.freeze()
            try:
                pool = multiprocessing.get_context("fork").Pool(
                    workers, initializer=_init_worker, initargs=init_args
                )
            finally:
                gc.unfreeze()
            with pool:
                for chunk in pool.imap(_evaluate_range, spans):
                    chunks.append(chunk)
                    bar.update(len(chunk[1]))
                pool.close()
                pool.join()  # the workers exit and are reaped here, not later
    joined, _ = concat_images([images for images, _ in chunks])
    sizes = np.concatenate([s for _, s in chunks]) if chunks else np.zeros((0, 3), np.int64)

    total = PQAccumulator(categories)
    # panopticapi splits the images into one contiguous part per process and
    # adds the parts in order; doing the same keeps every float sum identical.
    for part in np.array_split(np.arange(len(pairs)), max(workers, 1)):
        accumulator = PQAccumulator(categories)
        if part.size:
            accumulator.add(slice_images(joined, sizes, int(part[0]), int(part[-1]) + 1))
        total.merge(accumulator)
    return total.results(), total
