"""Validation of a COCO panoptic (or video panoptic) dataset on disk.

Finds PNG ids missing from the JSON and JSON segments missing from the PNG,
unknown categories, categories without ``isthing``, JSON areas (and boxes)
that disagree with the PNG, duplicate ids, empty images, missing or broken
files and broken video frame order. Used by ``tools/check_dataset.py``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from panoptic.data.panoptic_io import load_json, read_image, read_panoptic_png, segments_stats


@dataclass
class Issue:
    """One finding: ``severity`` is ``"error"`` or ``"warning"``; ``kind`` a short tag."""

    severity: str
    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.severity.upper():7s}] {self.kind:22s} {self.where}: {self.message}"


@dataclass
class CheckReport:
    """All findings of one check run."""

    ann_file: str
    num_images: int = 0
    num_segments: int = 0
    issues: list[Issue] = field(default_factory=list)

    def add(self, severity: str, kind: str, where: str, message: str) -> None:
        self.issues.append(Issue(severity, kind, where, message))

    @property
    def num_errors(self) -> int:
        return sum(i.severity == "error" for i in self.issues)

    @property
    def num_warnings(self) -> int:
        return sum(i.severity == "warning" for i in self.issues)

    def kinds(self) -> set[str]:
        """The tags of every finding."""
        return {i.kind for i in self.issues}

    def format(self, max_per_kind: int = 20) -> str:
        """A readable report: a summary per kind, then the findings."""
        lines = [
            f"Checked {self.ann_file}: {self.num_images} images, {self.num_segments} segments.",
            f"{self.num_errors} errors, {self.num_warnings} warnings.",
        ]
        counts = Counter((i.severity, i.kind) for i in self.issues)
        for (severity, kind), n in sorted(counts.items()):
            lines.append(f"  {severity:7s} {kind:22s} x{n}")
        shown: Counter = Counter()
        for issue in self.issues:
            shown[issue.kind] += 1
            if shown[issue.kind] <= max_per_kind:
                lines.append(str(issue))
            elif shown[issue.kind] == max_per_kind + 1:
                lines.append(f"  ... more '{issue.kind}' findings omitted")
        if not self.issues:
            lines.append("OK: no problems found.")
        return "\n".join(lines)


def _check_categories(data: dict[str, Any], report: CheckReport) -> dict[int, dict[str, Any]]:
    cats: dict[int, dict[str, Any]] = {}
    for k, cat in enumerate(data.get("categories", [])):
        where = f"category #{k} ({cat.get('name', '?')})"
        if "id" not in cat:
            report.add("error", "category_missing_id", where, "no 'id'")
            continue
        if "isthing" not in cat:
            report.add("error", "missing_isthing", where, "no 'isthing' flag")
        if cat["id"] in cats:
            report.add("error", "duplicate_category", where, f"category id {cat['id']} repeats")
        cats[int(cat["id"])] = cat
    return cats


def _check_video_order(
    images: Iterable[dict[str, Any]], data: dict[str, Any], report: CheckReport
) -> None:
    frames: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for img in images:
        if "video_id" not in img or "frame_index" not in img:
            report.add(
                "error", "frame_order", f"image {img.get('id')}", "lacks video_id or frame_index"
            )
            continue
        frames[int(img["video_id"])].append((int(img["frame_index"]), int(img["id"])))
    known = {int(v["id"]) for v in data.get("videos", [])}
    for video_id, entries in sorted(frames.items()):
        where = f"video {video_id}"
        if known and video_id not in known:
            report.add("error", "frame_order", where, "not listed in 'videos'")
        indices = [f for f, _ in entries]
        dup = sorted(f for f, n in Counter(indices).items() if n > 1)
        if dup:
            report.add("error", "frame_order", where, f"frame_index repeated: {dup}")
        if indices != sorted(indices):
            report.add("warning", "frame_order", where, "images are not listed in frame order")
        missing = sorted(set(range(min(indices), max(indices) + 1)) - set(indices))
        if missing:
            report.add("error", "frame_order", where, f"frame_index gaps: {missing[:10]}")
        ids_in_order = [i for _, i in sorted(entries)]
        if ids_in_order != sorted(ids_in_order):
            report.add(
                "warning", "frame_order", where, "image ids do not increase with frame_index"
            )


def check_panoptic_dataset(
    ann_file: str | Path,
    seg_dir: str | Path,
    img_dir: str | Path | None = None,
    progress: bool = False,
) -> CheckReport:
    """Validate a panoptic JSON against its PNGs (and images).

    Args:
        ann_file: COCO panoptic JSON (video layout: images with ``video_id`` and
            ``frame_index``).
        seg_dir: folder of the panoptic PNGs.
        img_dir: folder of the images; when given, every image must decode.
        progress: show a progress bar.

    Returns:
        The report; ``num_errors > 0`` means the dataset is broken.
    """
    report = CheckReport(ann_file=str(ann_file))
    data = load_json(ann_file)
    for key in ("images", "annotations", "categories"):
        if key not in data:
            report.add("error", "json_structure", str(ann_file), f"missing top-level key '{key}'")
    cats = _check_categories(data, report)
    images: dict[int, dict[str, Any]] = {}
    for img in data.get("images", []):
        if img["id"] in images:
            report.add("error", "duplicate_image_id", f"image {img['id']}", "image id repeats")
        images[int(img["id"])] = img
    report.num_images = len(images)
    annotated: set[int] = set()
    seg_ids_total = 0
    for ann in tqdm(data.get("annotations", []), desc="checking", disable=not progress):
        image_id = int(ann.get("image_id", -1))
        where = str(Path(seg_dir) / ann.get("file_name", "?"))
        if image_id not in images:
            report.add(
                "error", "unknown_image", where, f"annotation for unknown image_id {image_id}"
            )
        if image_id in annotated:
            report.add("error", "duplicate_annotation", where, f"image {image_id} annotated twice")
        annotated.add(image_id)
        segments = []
        for seg in ann.get("segments_info", []):
            if "id" in seg and "category_id" in seg:
                segments.append(seg)
            else:
                report.add("error", "json_structure", where, f"segment lacks id/category_id: {seg}")
        seg_ids_total += len(segments)
        if not segments:
            report.add("error", "empty_image", where, "segments_info is empty")
        counts = Counter(int(s["id"]) for s in segments)
        dups = sorted(i for i, n in counts.items() if n > 1)
        if dups:
            report.add("error", "duplicate_segment_id", where, f"segment ids repeat: {dups}")
        for seg in segments:
            if int(seg["category_id"]) not in cats:
                report.add(
                    "error",
                    "unknown_category",
                    where,
                    f"segment {seg['id']} has category_id {seg['category_id']} not in categories",
                )
        try:
            id_map = read_panoptic_png(Path(seg_dir) / ann.get("file_name", ""))
        except (FileNotFoundError, ValueError) as err:
            report.add("error", "bad_png", where, str(err))
            continue
        image = images.get(image_id)
        expected = (image.get("height"), image.get("width")) if image else None
        if expected and id_map.shape != expected:
            report.add(
                "error",
                "size_mismatch",
                where,
                f"PNG is {id_map.shape}, image record says {expected}",
            )
        stats = segments_stats(id_map)
        if not stats:
            report.add("error", "empty_image", where, "PNG is entirely VOID")
        json_ids = set(counts)
        png_only = sorted(set(stats) - json_ids)
        json_only = sorted(json_ids - set(stats))
        if png_only:
            report.add(
                "error", "png_id_not_in_json", where, f"PNG ids {png_only} not in segments_info"
            )
        if json_only:
            report.add(
                "error", "json_id_not_in_png", where, f"segment ids {json_only} not in the PNG"
            )
        for seg in segments:
            if int(seg["id"]) not in stats:
                continue
            area, bbox = stats[int(seg["id"])]
            if "area" in seg and int(seg["area"]) != area:
                report.add(
                    "error",
                    "area_mismatch",
                    where,
                    f"segment {seg['id']}: JSON area {seg['area']}, PNG area {area}",
                )
            if "bbox" in seg and [int(v) for v in seg["bbox"]] != bbox:
                report.add(
                    "warning",
                    "bbox_mismatch",
                    where,
                    f"segment {seg['id']}: JSON bbox {seg['bbox']}, PNG bbox {bbox}",
                )
    report.num_segments = seg_ids_total
    for image_id in sorted(set(images) - annotated):
        report.add("error", "empty_image", f"image {image_id}", "has no annotation")
    if img_dir is not None:
        for image in tqdm(images.values(), desc="reading images", disable=not progress):
            try:
                read_image(Path(img_dir) / image["file_name"])
            except (FileNotFoundError, ValueError) as err:
                report.add("error", "bad_image", str(Path(img_dir) / image["file_name"]), str(err))
    if "videos" in data or any("video_id" in img for img in images.values()):
        _check_video_order(data.get("images", []), data, report)
    return report
