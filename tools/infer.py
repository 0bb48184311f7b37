"""Run a panoptic model on your own images and write COCO files and overlay pictures.

Outputs in ``--out``:
  panoptic_pred/<image>.png + panoptic_pred.json   COCO panoptic (panopticapi reads them)
  instances.json                                   COCO instance results, RLE masks
  overlays/<image>.jpg                             segments coloured by category, with
                                                   class names (and scores for things)

Class names and colours come from ``--categories`` (a COCO panoptic JSON, or a
list of category dicts), else from the checkpoint's ``meta.dataset_meta`` (saved
by training), else from the config's test dataset, else generic names.

Examples:
  python tools/infer.py configs/panoptic/yolact_upsnet_r18_synthetic.py \\
      work_dirs/synthetic/best.pth --input demo/ --out demo_out/
  python tools/infer.py CONFIG CHECKPOINT --input 'photos/*.jpg' --out out/ \\
      --precision bf16 --batch-size 4
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from tqdm import tqdm

from panoptic.apis import init_model, read_image
from panoptic.data.categories import category_metainfo, default_color
from panoptic.engine.checkpoint_io import load_checkpoint_file
from panoptic.evaluation.coco_writers import CocoInstanceWriter, CocoPanopticWriter
from panoptic.structures import PanopticDataSample

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", help="model config file (e.g. configs/panoptic/*.py)")
    parser.add_argument("checkpoint", help="trained weights (.pth) for that config")
    parser.add_argument(
        "--input", required=True, help="an image file, a folder of images, or a quoted glob"
    )
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="fp32, or bf16 autocast (faster on recent CPUs and GPUs)",
    )
    parser.add_argument("--batch-size", type=int, default=1, help="images per forward pass")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--categories",
        default=None,
        help="COCO panoptic JSON (or list of category dicts) naming and colouring the classes",
    )
    parser.add_argument(
        "--no-overlays", action="store_true", help="write only the COCO files, no pictures"
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    return args


def collect_images(spec: str) -> list[Path]:
    """Image files named by a path, a folder (not recursive) or a glob pattern, sorted.

    Raises:
        FileNotFoundError: nothing matches.
    """
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise FileNotFoundError(
                f"--input folder {path} holds no image ({sorted(IMAGE_SUFFIXES)})"
            )
        return files
    files = [Path(p) for p in sorted(glob.glob(spec)) if Path(p).suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise FileNotFoundError(f"--input {spec!r} is not a file or folder and matches no image")
    return files


def _categories_from_file(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"--categories file not found: {path}")
    data = json.loads(path.read_text())
    categories = data.get("categories") if isinstance(data, dict) else data
    if not isinstance(categories, list) or not categories:
        raise ValueError(f"{path}: expected a list of categories or a JSON with 'categories'")
    return categories


def _meta_from_checkpoint(path: Path) -> dict[str, Any] | None:
    try:
        state = load_checkpoint_file(path, map_location="cpu")
    except Exception:  # an unreadable meta is not fatal: fall back to the config
        return None
    meta = state.get("meta") if isinstance(state, dict) else None
    dataset_meta = meta.get("dataset_meta") if isinstance(meta, dict) else None
    if isinstance(dataset_meta, dict) and dataset_meta.get("categories"):
        return dataset_meta
    return None


def _meta_from_config(config: Config) -> dict[str, Any] | None:
    from mmengine.registry import DefaultScope

    from panoptic.registry import DATASETS

    dataset_cfg = (config.get("test_dataloader") or {}).get("dataset")
    if not dataset_cfg:
        return None
    dataset = None
    with DefaultScope.overwrite_default_scope(config.get("default_scope", "panoptic")):
        # Lazily first (file datasets then read no annotations), else as configured
        # (generated datasets take no ``lazy_init``).
        for extra in ({"lazy_init": True}, {}):
            try:
                dataset = DATASETS.build({**dataset_cfg, **extra})
                break
            except Exception:  # the dataset files may not exist where inference runs
                continue
    metainfo = dict(getattr(dataset, "metainfo", {}) or {})
    return metainfo if metainfo.get("categories") else None


def generic_categories(num_things: int, num_stuff: int) -> list[dict[str, Any]]:
    """Category dicts ``thing_0.., stuff_0..`` with ids ``1..T+S`` (label + 1)."""
    categories = []
    for label in range(num_things + num_stuff):
        isthing = label < num_things
        name = f"thing_{label}" if isthing else f"stuff_{label - num_things}"
        categories.append(
            dict(id=label + 1, name=name, isthing=int(isthing), color=default_color(label + 1))
        )
    return categories


def resolve_dataset_meta(
    config: Config, checkpoint: Path, categories_file: str | None, num_things: int, num_stuff: int
) -> dict[str, Any]:
    """Categories and label maps for the outputs (see the module docstring for the order).

    Raises:
        ValueError: the categories do not have the model's thing and stuff counts.
    """
    if categories_file is not None:
        meta = category_metainfo(_categories_from_file(Path(categories_file)))
        source = categories_file
    else:
        found = _meta_from_checkpoint(checkpoint) or _meta_from_config(config)
        if found is None:
            print(
                "warning: no categories in the checkpoint or config; using generic names "
                "(pass --categories to name them)",
                file=sys.stderr,
            )
            found = generic_categories(num_things, num_stuff)
            source = "generic categories"
            meta = category_metainfo(found)
        else:
            meta = category_metainfo(found["categories"])
            source = f"{checkpoint} / {config.filename}"
    if (len(meta["thing_classes"]), len(meta["stuff_classes"])) != (num_things, num_stuff):
        raise ValueError(
            f"{source}: {len(meta['thing_classes'])} thing and {len(meta['stuff_classes'])} "
            f"stuff categories, the model has {num_things} and {num_stuff}"
        )
    return meta


def input_size(config: Config) -> tuple[int, int]:
    """(h, w) of the network input: the test pipeline's ``Resize``, else the prior base size."""
    for transform in config.get("test_pipeline", []) or []:
        if transform.get("type") == "Resize" and "scale" in transform:
            width, height = transform["scale"]
            return int(height), int(width)
    size = int(config.model.instance_head.prior_base_size)
    return size, size


def resize_image(image_bgr: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(H, W, 3) uint8 BGR -> (3, h, w) float32 BGR, bilinear (``align_corners=False``)."""
    image = torch.from_numpy(np.ascontiguousarray(image_bgr)).permute(2, 0, 1).float()
    return F.interpolate(image[None], size, mode="bilinear", align_corners=False)[0]


def draw_overlay(
    image_bgr: np.ndarray,
    id_map: np.ndarray,
    segments: Sequence[dict[str, Any]],
    categories: dict[int, dict[str, Any]],
    alpha: float = 0.5,
) -> np.ndarray:
    """The image with segments tinted by category colour, outlined, and labelled.

    Args:
        image_bgr: (H, W, 3) uint8.
        id_map: (H, W) segment ids, 0 = VOID (left untinted).
        segments: segment dicts (``id``, ``category_id``, ``isthing``, ``score``, ``bbox``).
        categories: category id -> dict with ``name`` and ``color`` (RGB).
        alpha: tint opacity.

    Returns:
        (H, W, 3) uint8 BGR picture.
    """
    canvas = image_bgr.astype(np.float32)
    tint = np.zeros_like(canvas)
    covered = id_map > 0
    for segment in segments:
        r, g, b = categories[segment["category_id"]]["color"]
        tint[id_map == segment["id"]] = (b, g, r)
    canvas[covered] = (1 - alpha) * canvas[covered] + alpha * tint[covered]
    picture = canvas.clip(0, 255).astype(np.uint8)
    edges = np.zeros(id_map.shape, dtype=bool)
    edges[:, 1:] |= id_map[:, 1:] != id_map[:, :-1]
    edges[1:, :] |= id_map[1:, :] != id_map[:-1, :]
    picture[edges] = (255, 255, 255)
    scale = max(0.35, min(image_bgr.shape[:2]) / 900)
    for segment in segments:
        name = categories[segment["category_id"]]["name"]
        text = f"{name} {segment['score']:.2f}" if segment["isthing"] else name
        x, y, _, h = segment["bbox"]
        org = (int(x + 2), int(y + min(h, 12 * scale + 8)))
        cv2.putText(picture, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3)
        cv2.putText(picture, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1)
    return picture


def _chunks(items: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _image_id(path: Path, index: int) -> int:
    """COCO names files by image id: a numeric stem is the id, else the running index."""
    return int(path.stem) if path.stem.isdigit() else index


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Runs the model over ``args.input`` and writes everything to ``args.out``.

    Returns:
        Paths of the written files and the number of images.
    """
    images = collect_images(args.input)
    checkpoint = Path(args.checkpoint)
    model = init_model(args.config, checkpoint, device=args.device)
    config = model.cfg
    if not hasattr(model, "semantic_head"):
        raise ValueError(f"{args.config}: {type(model).__name__} is not a panoptic model")
    meta = resolve_dataset_meta(
        config,
        checkpoint,
        args.categories,
        model.semantic_head.num_thing_classes,
        model.semantic_head.num_stuff_classes,
    )
    model.dataset_meta = meta
    categories = {int(c["id"]): c for c in meta["categories"]}
    num_things = len(meta["thing_classes"])
    thing_label2cat = {k: v for k, v in meta["label2cat"].items() if int(k) < num_things}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    panoptic_writer = CocoPanopticWriter(out, meta["categories"])
    instance_writer = CocoInstanceWriter(out / "instances.json", thing_label2cat)
    overlay_dir = out / "overlays"
    if not args.no_overlays:
        overlay_dir.mkdir(exist_ok=True)

    size = input_size(config)
    device = next(model.parameters()).device
    index = 0
    with tqdm(total=len(images), desc="infer", unit="img") as progress:
        for chunk in _chunks(images, args.batch_size):
            pictures = [read_image(p) for p in chunk]
            samples = [
                PanopticDataSample(
                    metainfo=dict(
                        img_path=str(p),
                        ori_shape=tuple(picture.shape[:2]),
                        img_shape=size,
                        scale_factor=(size[1] / picture.shape[1], size[0] / picture.shape[0]),
                    )
                )
                for p, picture in zip(chunk, pictures)
            ]
            # The model's own preprocessor normalises and pads, exactly as in training.
            batch = model.data_preprocessor(
                dict(inputs=[resize_image(p, size) for p in pictures], data_samples=samples),
                training=False,
            )
            with (
                torch.no_grad(),
                torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"),
            ):
                results = model(batch["inputs"], batch["data_samples"], mode="predict")
            for path, picture, result in zip(chunk, pictures, results):
                image_id = _image_id(path, index)
                index += 1
                id_map = result.pred_panoptic.id_map.cpu().numpy()
                segments = result.pred_panoptic.segments
                panoptic_writer.add(image_id, id_map, segments, file_name=path.name)
                instances = result.pred_instances
                instance_writer.add(
                    image_id,
                    instances.boxes.float().cpu().numpy(),
                    instances.scores.float().cpu().numpy(),
                    instances.labels.cpu().numpy(),
                    instances.masks.cpu().numpy(),
                )
                if not args.no_overlays:
                    overlay = draw_overlay(picture, id_map, segments, categories)
                    cv2.imwrite(str(overlay_dir / f"{path.stem}.jpg"), overlay)
                progress.update(1)
    return dict(
        num_images=len(images),
        panoptic_json=panoptic_writer.write_json(),
        panoptic_dir=panoptic_writer.png_dir,
        instances_json=instance_writer.write_json(),
        overlays=None if args.no_overlays else overlay_dir,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{summary['num_images']} images -> {args.out}")
    for key in ("panoptic_json", "panoptic_dir", "instances_json", "overlays"):
        if summary[key] is not None:
            print(f"  {key}: {summary[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
