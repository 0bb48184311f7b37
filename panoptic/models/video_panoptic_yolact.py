"""VideoPanopticYolact: the image model plus a tracking head and an online tracker.

Legend: B frames, N instances, D embedding size, H0/W0 original frame size.

    frame -> PanopticYolact (features, pred_instances, pred_panoptic)
          -> TrackingHead (RoIAlign on p3..p5 of the instances' boxes) -> embeddings
          -> Tracker (Hungarian on embedding + class + box IoU) -> track ids
          -> pred_instances.instance_ids and a panoptic map whose thing ids are
             ``THING_ID_BASE + track id`` (constant over the video) and whose stuff
             ids are the stuff category ids (constant per class).

It subclasses the image model, so an image checkpoint loads into it unchanged
(``load_from``; only the tracking head's weights are new). With
``freeze_detector`` the image model stays in eval mode without gradients and
training optimises the tracking head alone, on clips (``clip_len`` frames each,
flattened clip-major by the data preprocessor).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

from panoptic.models.panoptic_yolact import PanopticYolact
from panoptic.models.tracking.tracker import Tracker
from panoptic.registry import MODELS
from panoptic.structures.panoptic_data_sample import PanopticDataSample

THING_ID_BASE = 1 << 16  # thing segment id = THING_ID_BASE + track id; stuff id = category id


def segment_instances(
    segments: Sequence[dict[str, Any]],
    labels: Sequence[int],
    scores: Sequence[float],
    label2cat: dict[int, int],
) -> list[int]:
    """Instance index of every thing segment (-1 for stuff).

    The fusion modules emit one thing segment per kept instance slot, in slot
    order, with the slot's score and category; instances they drop leave gaps.
    Walking both lists in order, each thing segment takes the next instance with
    its category and score.

    Args:
        segments: ``pred_panoptic.segments``.
        labels: (N,) thing labels of ``pred_instances``.
        scores: (N,) scores of ``pred_instances``.
        label2cat: semantic label -> category id.

    Returns:
        One index per segment.

    Raises:
        ValueError: a thing segment has no instance left to pair with.
    """
    out = []
    n = 0
    for seg in segments:
        if not seg["isthing"]:
            out.append(-1)
            continue
        while n < len(labels) and (
            label2cat[int(labels[n])] != seg["category_id"] or float(scores[n]) != seg["score"]
        ):
            n += 1
        if n == len(labels):
            raise ValueError(f"thing segment {seg['id']} matches no remaining instance")
        out.append(n)
        n += 1
    return out


def apply_track_ids(
    panoptic: BaseDataElement, instance_of_segment: Sequence[int], instance_ids: Tensor
) -> BaseDataElement:
    """Panoptic result with tracked ids: things ``THING_ID_BASE + track``, stuff by category.

    Args:
        panoptic: ``pred_panoptic`` (``id_map`` (H0, W0) int32, ``segments``).
        instance_of_segment: instance index per segment (-1 for stuff).
        instance_ids: (N,) int64 track ids of the instances (>= 1).

    Returns:
        A new element; segments gain ``instance_id`` (track id, 0 for stuff).
    """
    segments = []
    old_ids = [int(seg["id"]) for seg in panoptic.segments]
    lut = torch.zeros(max(old_ids, default=0) + 1, dtype=torch.int32)
    for seg, n in zip(panoptic.segments, instance_of_segment, strict=True):
        track = int(instance_ids[n]) if n >= 0 else 0
        new_id = THING_ID_BASE + track if n >= 0 else int(seg["category_id"])
        lut[int(seg["id"])] = new_id
        segments.append({**seg, "id": new_id, "instance_id": track})
    id_map = lut.to(panoptic.id_map.device)[panoptic.id_map.long()]  # (H0, W0)
    return BaseDataElement(id_map=id_map, segments=segments)


@MODELS.register_module()
class VideoPanopticYolact(PanopticYolact):
    """PanopticYolact with VPSNet-style tracking across the frames of a video.

    Args:
        backbone, neck, instance_head, protonet, semantic_head, panoptic_head:
            configs of the image model (see :class:`PanopticYolact`).
        tracking_head: config of the ``TrackingHead``.
        tracker: keyword arguments of :class:`Tracker` (weights, ``min_affinity``,
            ``max_age``, ``momentum``).
        freeze_detector: train the tracking head alone.
        data_preprocessor: config of the data preprocessor.
        init_cfg: mmengine initialisation config.

    In mode ``"predict"`` frames must arrive in order; the model keeps one tracker
    and restarts it whenever a sample's ``video_id`` changes. Streaming callers
    (:func:`panoptic.apis.inference_video`) pass their own tracker instead.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        instance_head: dict,
        protonet: dict,
        semantic_head: dict,
        panoptic_head: dict,
        tracking_head: dict,
        tracker: dict,
        freeze_detector: bool,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            instance_head=instance_head,
            protonet=protonet,
            semantic_head=semantic_head,
            panoptic_head=panoptic_head,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
        )
        self.tracking_head = MODELS.build(tracking_head)
        self.tracker_cfg = dict(tracker)
        self.freeze_detector = freeze_detector
        self._tracker = self.new_tracker()
        self._tracked_video: Hashable | None = None
        if freeze_detector:
            for name, param in self.named_parameters():
                if not name.startswith("tracking_head."):
                    param.requires_grad_(False)

    def new_tracker(self) -> Tracker:
        """A tracker for a new sequence, with this model's settings."""
        return Tracker(**self.tracker_cfg)

    def train(self, mode: bool = True) -> VideoPanopticYolact:
        """Train mode; a frozen detector stays in eval mode (batch-norm statistics)."""
        super().train(mode)
        if self.freeze_detector and mode:
            for name, module in self.named_children():
                if name != "tracking_head":
                    module.eval()
        return self

    def loss(self, inputs: Tensor, data_samples: list[PanopticDataSample]) -> dict[str, Tensor]:
        """Tracking loss on clips, plus the image losses when the detector trains.

        Args:
            inputs: (B, 3, H, W) frames of B / T clips, clip-major.
            data_samples: B samples with ``gt_instances.instance_ids`` and metainfo
                ``clip_len`` (T).

        Returns:
            ``loss_track`` (and the image model's losses unless frozen).
        """
        clip_len = int(data_samples[0].metainfo.get("clip_len", len(data_samples)))
        losses: dict[str, Tensor] = {}
        if self.freeze_detector:
            with torch.no_grad():
                features = self.extract_feats(inputs)
        else:
            losses.update(super().loss(inputs, data_samples))
            features = self.extract_feats(inputs)
        losses.update(
            self.tracking_head.loss(features, data_samples, clip_len, tuple(inputs.shape[-2:]))
        )
        return losses

    def predict(
        self,
        inputs: Tensor,
        data_samples: list[PanopticDataSample],
        tracker: Tracker | None = None,
    ) -> list[PanopticDataSample]:
        """Tracked instances and panoptic maps of consecutive frames.

        Args:
            inputs: (B, 3, H, W) normalised frames, in video order.
            data_samples: B samples (metainfo ``ori_shape``, ``img_shape``,
                ``video_id``).
            tracker: the sequence's tracker; ``None`` uses the model's own, which
                restarts whenever ``video_id`` changes.

        Returns:
            The samples with ``pred_instances`` (plus ``instance_ids``; 0 for
            instances without a panoptic segment) and ``pred_panoptic`` (tracked ids,
            segments with ``instance_id``).
        """
        for sample in data_samples:
            sample.set_metainfo({"batch_input_shape": tuple(inputs.shape[-2:])})
        features = self.extract_feats(inputs)
        outputs = self.instance_head(features)
        outputs["protos"] = self.protonet(features["p3"])
        outputs["sem_logits"] = self.semantic_head(features)
        results = self.instance_head.predict(outputs, outputs["protos"], data_samples)
        for sample, instances in zip(data_samples, results, strict=True):
            sample.pred_instances = instances
        panoptic = self.predict_panoptic(outputs, data_samples)

        H, W = inputs.shape[-2:]
        scale = inputs.new_tensor([W, H, W, H], dtype=torch.float32)
        links = []
        boxes = []
        for sample, result in zip(data_samples, panoptic, strict=True):
            instances = sample.pred_instances
            link = segment_instances(
                result.segments,
                instances.labels.tolist(),
                instances.scores.tolist(),
                self.label2cat(sample),
            )
            tracked = torch.tensor(sorted(n for n in link if n >= 0), dtype=torch.int64)
            links.append((link, tracked))
            boxes.append(instances.boxes_rel[tracked].float() * scale)  # (n, 4) input pixels
        embeddings = self.tracking_head.predict(features, boxes, (H, W))

        for b, sample in enumerate(data_samples):
            link, tracked = links[b]
            seq_tracker = tracker if tracker is not None else self._tracker_for(sample)
            instances = sample.pred_instances
            track_ids = seq_tracker.update(
                instances.boxes[tracked], instances.labels[tracked], embeddings[b]
            )
            instance_ids = torch.zeros(len(instances), dtype=torch.int64)
            instance_ids[tracked] = track_ids.cpu()
            instances.instance_ids = instance_ids.to(instances.labels.device)
            sample.pred_panoptic = apply_track_ids(panoptic[b], link, instance_ids)
        return data_samples

    def _tracker_for(self, sample: PanopticDataSample) -> Tracker:
        video_id = sample.metainfo.get("video_id")
        if video_id != self._tracked_video:
            self._tracker.reset()
            self._tracked_video = video_id
        return self._tracker
