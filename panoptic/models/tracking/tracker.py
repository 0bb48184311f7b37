"""Online multi-object tracker: Hungarian matching on embedding, class and box cues.

Each frame's detections are matched to the live tracks of the sequence by the
Hungarian algorithm on an affinity

    affinity = embed_weight * (1 + cos(e_track, e_det)) / 2
             + class_weight * [label_track == label_det]
             + iou_weight   * IoU(box_track, box_det)

(every term in [0, 1]); an assigned pair below ``min_affinity`` is dropped. A
matched track takes the detection's box and label and moves its embedding
towards the detection's by a moving average; an unmatched detection starts a new
track; a track unseen for more than ``max_age`` frames is forgotten. Track ids
start at 1 and are never reused within a sequence.

Legend: N detections, M tracks, D embedding size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchvision.ops import box_iou


@dataclass
class Track:
    """State of one track.

    Attributes:
        track_id: id, unique within the sequence (>= 1).
        label: thing label of the last matched detection.
        box: (4,) x1y1x2y2 box of the last matched detection.
        embedding: (D,) unit-norm moving-average embedding.
        age: frames since the track was last matched (0 when matched this frame).
    """

    track_id: int
    label: int
    box: Tensor
    embedding: Tensor
    age: int = 0


def track_affinity(
    track_embeddings: Tensor,
    track_labels: Tensor,
    track_boxes: Tensor,
    det_embeddings: Tensor,
    det_labels: Tensor,
    det_boxes: Tensor,
    embed_weight: float,
    class_weight: float,
    iou_weight: float,
) -> Tensor:
    """Affinity of every track with every detection (see the module docstring).

    Args:
        track_embeddings: (M, D) unit-norm embeddings of the tracks.
        track_labels: (M,) int64 labels of the tracks.
        track_boxes: (M, 4) x1y1x2y2 boxes of the tracks.
        det_embeddings: (N, D) unit-norm embeddings of the detections.
        det_labels: (N,) int64 labels of the detections.
        det_boxes: (N, 4) x1y1x2y2 boxes of the detections.
        embed_weight: weight of the embedding similarity.
        class_weight: weight of class agreement.
        iou_weight: weight of the box IoU.

    Returns:
        (M, N) float32 affinities.
    """
    cosine = track_embeddings.float() @ det_embeddings.float().t()  # (M, N)
    same_class = (track_labels[:, None] == det_labels[None, :]).float()  # (M, N)
    iou = box_iou(track_boxes.float(), det_boxes.float())  # (M, N)
    return embed_weight * (1.0 + cosine) / 2.0 + class_weight * same_class + iou_weight * iou


def hungarian_assignment(affinity: Tensor, min_affinity: float) -> list[tuple[int, int]]:
    """Maximum-affinity one-to-one assignment, keeping pairs at or above ``min_affinity``.

    Args:
        affinity: (M, N) affinities.
        min_affinity: smallest affinity of a kept pair.

    Returns:
        ``(track index, detection index)`` pairs, by track index.
    """
    if affinity.numel() == 0:
        return []
    scores = affinity.detach().cpu().double().numpy()
    rows, cols = linear_sum_assignment(scores, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if scores[r, c] >= min_affinity]


class Tracker:
    """Tracks of one sequence; call :meth:`update` once per frame, in order.

    Args:
        embed_weight: weight of the embedding similarity in the affinity.
        class_weight: weight of class agreement.
        iou_weight: weight of the box IoU with the track's last box.
        min_affinity: smallest affinity that continues a track.
        max_age: frames a track may go unmatched before it is forgotten.
        momentum: weight of the old embedding in the moving average (0 keeps only
            the newest detection's embedding).
    """

    def __init__(
        self,
        embed_weight: float,
        class_weight: float,
        iou_weight: float,
        min_affinity: float,
        max_age: int,
        momentum: float,
    ) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        if max_age < 0:
            raise ValueError(f"max_age must be >= 0, got {max_age}")
        self.embed_weight = embed_weight
        self.class_weight = class_weight
        self.iou_weight = iou_weight
        self.min_affinity = min_affinity
        self.max_age = max_age
        self.momentum = momentum
        self.tracks: list[Track] = []
        self.next_id = 1

    def reset(self) -> None:
        """Forget every track: the next frame starts a new sequence."""
        self.tracks = []
        self.next_id = 1

    def update(self, boxes: Tensor, labels: Tensor, embeddings: Tensor) -> Tensor:
        """Assign track ids to one frame's detections and update the tracks.

        Args:
            boxes: (N, 4) x1y1x2y2 boxes.
            labels: (N,) int64 thing labels.
            embeddings: (N, D) embeddings (normalised here).

        Returns:
            (N,) int64 track ids (>= 1), on the device of ``boxes``.
        """
        num_dets = boxes.shape[0]
        embeddings = F.normalize(embeddings.detach().float(), dim=-1)
        boxes = boxes.detach().float()
        labels = labels.detach().long()
        ids = torch.zeros(num_dets, dtype=torch.int64)
        matched_tracks: set[int] = set()
        if self.tracks and num_dets:
            affinity = track_affinity(
                torch.stack([t.embedding for t in self.tracks]).to(embeddings.device),
                torch.tensor([t.label for t in self.tracks], device=labels.device),
                torch.stack([t.box for t in self.tracks]).to(boxes.device),
                embeddings,
                labels,
                boxes,
                self.embed_weight,
                self.class_weight,
                self.iou_weight,
            )
            for t, d in hungarian_assignment(affinity, self.min_affinity):
                track = self.tracks[t]
                mixed = self.momentum * track.embedding + (1 - self.momentum) * embeddings[d].cpu()
                track.embedding = F.normalize(mixed, dim=0)
                track.box = boxes[d].cpu()
                track.label = int(labels[d])
                track.age = 0
                ids[d] = track.track_id
                matched_tracks.add(t)
        for t, track in enumerate(self.tracks):
            if t not in matched_tracks:
                track.age += 1
        self.tracks = [t for t in self.tracks if t.age <= self.max_age]
        for d in np.flatnonzero(ids.numpy() == 0).tolist():
            self.tracks.append(
                Track(self.next_id, int(labels[d]), boxes[d].cpu(), embeddings[d].cpu())
            )
            ids[d] = self.next_id
            self.next_id += 1
        return ids.to(boxes.device)
