"""The YOLACT prediction head, shared by all pyramid levels.

Legend: B batch, A priors (all levels), a priors per cell, C thing classes
(logits have C + 1 channels, background first), K prototypes, N instances,
H/W heights and widths, Hp/Wp prototype size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor, nn

from panoptic.losses.yolact_loss import (
    PriorAssignment,
    box_regression_loss,
    classification_loss,
    downsample_masks,
    mask_loss,
    match_priors,
    semantic_aux_loss,
)
from panoptic.models.heads.prior_generator import YolactPriorGenerator
from panoptic.models.heads.yolact_postprocess import detect_instances, instances_to_image
from panoptic.registry import MODELS
from panoptic.structures.box_ops import encode_boxes
from panoptic.structures.panoptic_data_sample import PanopticDataSample


@MODELS.register_module()
class YolactHead(nn.Module):
    """Box, class and mask-coefficient predictions on P3-P7, the YOLACT way.

    One 3x3 conv (+ReLU) then three 3x3 convs (boxes, class logits, tanh
    coefficients), with the same weights on every level. Optionally a 1x1
    semantic conv on the finest level provides the authors' auxiliary loss.

    Args:
        in_channels: channels of the pyramid levels.
        feat_channels: channels of the shared extra 3x3 conv.
        num_classes: C, thing classes without background.
        num_prototypes: K.
        prior_scales: per level, prior sizes in pixels at ``prior_base_size``.
        prior_aspect_ratios: per level, aspect ratios.
        prior_base_size: image size the pixel scales refer to.
        square_priors: the authors' square-anchor quirk.
        in_names: pyramid levels used, finest first.
        semantic_aux: add the auxiliary semantic conv (training only).
        pos_iou_thresh: prior matching, positive at IoU >= this.
        neg_iou_thresh: prior matching, negative below this.
        crowd_iou_thresh: ignore would-be negatives this much inside a crowd box.
        neg_pos_ratio: OHEM negatives per positive.
        box_loss_weight: weight of the smooth-L1 box loss.
        mask_loss_weight: weight of the mask BCE.
        semantic_loss_weight: weight of the auxiliary semantic loss.
        max_masks: masks trained per image at most.
        conf_thresh: inference, minimum best-class probability of a prior.
        nms_iou_thresh: inference, Fast NMS IoU threshold.
        nms_top_k: inference, candidates per class entering NMS.
        max_num_detections: inference, detections kept per image.
        cross_class_nms: inference, one NMS across classes.
        mask_thresh: inference, mask probability threshold.
    """

    def __init__(
        self,
        in_channels: int,
        feat_channels: int,
        num_classes: int,
        num_prototypes: int,
        prior_scales: list[list[float]],
        prior_aspect_ratios: list[list[float]],
        prior_base_size: float,
        square_priors: bool = True,
        in_names: tuple[str, ...] = ("p3", "p4", "p5", "p6", "p7"),
        semantic_aux: bool = True,
        pos_iou_thresh: float = 0.5,
        neg_iou_thresh: float = 0.4,
        crowd_iou_thresh: float = 0.7,
        neg_pos_ratio: float = 3.0,
        box_loss_weight: float = 1.5,
        mask_loss_weight: float = 6.125,
        semantic_loss_weight: float = 1.0,
        max_masks: int = 100,
        conf_thresh: float = 0.05,
        nms_iou_thresh: float = 0.5,
        nms_top_k: int = 200,
        max_num_detections: int = 100,
        cross_class_nms: bool = False,
        mask_thresh: float = 0.5,
    ) -> None:
        super().__init__()
        self.prior_generator = YolactPriorGenerator(
            prior_scales, prior_aspect_ratios, prior_base_size, square_priors
        )
        if self.prior_generator.num_levels != len(in_names):
            raise ValueError(f"priors for {self.prior_generator.num_levels} levels, {in_names=}")
        num_anchors = {self.prior_generator.num_priors_per_cell(i) for i in range(len(in_names))}
        if len(num_anchors) != 1:
            raise ValueError(
                "the shared head needs the same number of priors per cell on all levels"
            )
        self.num_anchors = num_anchors.pop()
        self.num_classes = num_classes
        self.num_prototypes = num_prototypes
        self.in_names = tuple(in_names)
        self.extra_conv = nn.Conv2d(in_channels, feat_channels, kernel_size=3, padding=1)
        self.box_conv = nn.Conv2d(feat_channels, self.num_anchors * 4, kernel_size=3, padding=1)
        self.cls_conv = nn.Conv2d(
            feat_channels, self.num_anchors * (num_classes + 1), kernel_size=3, padding=1
        )
        self.coeff_conv = nn.Conv2d(
            feat_channels, self.num_anchors * num_prototypes, kernel_size=3, padding=1
        )
        self.semantic_conv = nn.Conv2d(in_channels, num_classes, 1) if semantic_aux else None

        # The authors' initialisation of every conv outside the backbone.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self.pos_iou_thresh = pos_iou_thresh
        self.neg_iou_thresh = neg_iou_thresh
        self.crowd_iou_thresh = crowd_iou_thresh
        self.neg_pos_ratio = neg_pos_ratio
        self.box_loss_weight = box_loss_weight
        self.mask_loss_weight = mask_loss_weight
        self.semantic_loss_weight = semantic_loss_weight
        self.max_masks = max_masks
        self.conf_thresh = conf_thresh
        self.nms_iou_thresh = nms_iou_thresh
        self.nms_top_k = nms_top_k
        self.max_num_detections = max_num_detections
        self.cross_class_nms = cross_class_nms
        self.mask_thresh = mask_thresh

    def forward(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """Predict on every level.

        Args:
            features: pyramid dict holding ``in_names``, each (B, C_in, H_l, W_l).

        Returns:
            ``loc`` (B, A, 4) box regressions, ``cls_logits`` (B, A, C + 1),
            ``coeffs`` (B, A, K) after tanh, ``priors`` (A, 4) relative cx, cy, w, h,
            and in training with ``semantic_aux`` ``sem_logits`` (B, C, H3, W3).
        """
        locs, logits, coeffs, sizes = [], [], [], []
        for name in self.in_names:
            x = F.relu(self.extra_conv(features[name]))
            batch = x.shape[0]
            sizes.append((x.shape[2], x.shape[3]))
            # (B, a * 4, H, W) -> (B, H, W, a * 4) -> (B, H * W * a, 4)
            locs.append(self.box_conv(x).permute(0, 2, 3, 1).reshape(batch, -1, 4))
            logits.append(
                self.cls_conv(x).permute(0, 2, 3, 1).reshape(batch, -1, self.num_classes + 1)
            )
            coeffs.append(
                self.coeff_conv(x).permute(0, 2, 3, 1).reshape(batch, -1, self.num_prototypes)
            )
        first = features[self.in_names[0]]
        outputs = {
            "loc": torch.cat(locs, dim=1),  # (B, A, 4)
            "cls_logits": torch.cat(logits, dim=1),  # (B, A, C + 1)
            "coeffs": torch.tanh(torch.cat(coeffs, dim=1)),  # (B, A, K)
            "priors": self.prior_generator(sizes, first.device),  # (A, 4)
        }
        if self.training and self.semantic_conv is not None:
            outputs["sem_logits"] = self.semantic_conv(first)  # (B, C, H3, W3)
        return outputs

    def match(
        self, outputs: dict[str, Tensor], batch_data_samples: list[PanopticDataSample]
    ) -> list[tuple[InstanceData, PriorAssignment]]:
        """Prior matching of every image (see :func:`match_priors`).

        Args:
            outputs: output of :meth:`forward`.
            batch_data_samples: samples with ``gt_instances`` (absolute boxes in the
                network input) and metainfo ``batch_input_shape``.

        Returns:
            Per image, the non-crowd ground truth (``boxes_rel``, ``labels``, ``masks``)
            and its :class:`~panoptic.losses.yolact_loss.PriorAssignment`.
        """
        priors = outputs["priors"]
        matched: list[tuple[InstanceData, PriorAssignment]] = []
        for sample in batch_data_samples:
            gt = _relative_ground_truth(sample, priors.device)
            crowd = gt.iscrowd
            things = gt[~crowd]
            assignment = match_priors(
                things.boxes_rel,
                things.labels,
                priors,
                crowd_boxes_rel=gt.boxes_rel[crowd],
                pos_iou_thresh=self.pos_iou_thresh,
                neg_iou_thresh=self.neg_iou_thresh,
                crowd_iou_thresh=self.crowd_iou_thresh,
            )
            matched.append((things, assignment))
        return matched

    def loss(
        self,
        outputs: dict[str, Tensor],
        protos: Tensor,
        batch_data_samples: list[PanopticDataSample],
    ) -> dict[str, Tensor]:
        """The authors' losses: box, class (OHEM), mask and auxiliary semantic.

        Box, class and mask losses are divided by the number of positive priors in
        the batch (at least 1), the semantic loss by the batch size.

        Args:
            outputs: output of :meth:`forward` (in training mode).
            protos: (B, Hp, Wp, K) prototypes.
            batch_data_samples: samples with ``gt_instances`` (``boxes`` absolute in
                the network input, ``labels``, ``masks`` (N, H, W), optional
                ``iscrowd``) and metainfo ``batch_input_shape``.

        Returns:
            ``loss_box``, ``loss_cls``, ``loss_mask`` and (with ``semantic_aux``)
            ``loss_sem``.
        """
        loc, cls_logits, coeffs = outputs["loc"], outputs["cls_logits"], outputs["coeffs"]
        priors = outputs["priors"]
        proto_size = (protos.shape[1], protos.shape[2])
        labels, loc_targets = [], []
        mask_sum = protos.new_zeros(())
        sem_sum = protos.new_zeros(())
        for i, (things, assignment) in enumerate(self.match(outputs, batch_data_samples)):
            labels.append(assignment.labels)
            positive = assignment.positive
            if len(things) > 0:
                loc_targets.append(encode_boxes(things.boxes_rel[assignment.gt_index], priors))
            else:
                loc_targets.append(torch.zeros_like(priors))
            gt_index = assignment.gt_index[positive]  # (P,)
            input_masks = things.masks.float()  # (N, H, W)
            proto_masks = downsample_masks(input_masks, proto_size)  # (N, Hp, Wp)
            mask_sum = mask_sum + mask_loss(
                protos[i].float(),
                coeffs[i][positive].float(),
                proto_masks[gt_index],
                things.boxes_rel[gt_index],
                self.max_masks,
            )
            if "sem_logits" in outputs:
                sem_sum = sem_sum + semantic_aux_loss(
                    outputs["sem_logits"][i], input_masks, things.labels
                )
        labels_t = torch.stack(labels)  # (B, A)
        positive_t = labels_t > 0
        num_pos = positive_t.sum().clamp(min=1).float()
        losses = {
            "loss_box": self.box_loss_weight
            * box_regression_loss(loc.float(), torch.stack(loc_targets), positive_t)
            / num_pos,
            "loss_cls": classification_loss(cls_logits.float(), labels_t, self.neg_pos_ratio)
            / num_pos,
            "loss_mask": self.mask_loss_weight * mask_sum / num_pos,
        }
        if "sem_logits" in outputs:
            losses["loss_sem"] = self.semantic_loss_weight * sem_sum / len(batch_data_samples)
        return losses

    def detect(self, outputs: dict[str, Tensor]) -> list[InstanceData]:
        """Per-image detections before mask assembly (see :func:`detect_instances`).

        Args:
            outputs: output of :meth:`forward`.

        Returns:
            Per image, InstanceData with ``boxes_rel``, ``labels``, ``scores``, ``coeffs``.
        """
        cls_probs = F.softmax(outputs["cls_logits"].float(), dim=-1)  # (B, A, C + 1)
        return [
            detect_instances(
                outputs["loc"][i],
                cls_probs[i],
                outputs["coeffs"][i],
                outputs["priors"],
                conf_thresh=self.conf_thresh,
                iou_thresh=self.nms_iou_thresh,
                top_k=self.nms_top_k,
                max_num_detections=self.max_num_detections,
                cross_class=self.cross_class_nms,
            )
            for i in range(cls_probs.shape[0])
        ]

    def predict(
        self,
        outputs: dict[str, Tensor],
        protos: Tensor,
        batch_data_samples: list[PanopticDataSample],
    ) -> list[InstanceData]:
        """Detections with boxes and binary masks in each original image.

        Args:
            outputs: output of :meth:`forward`.
            protos: (B, Hp, Wp, K) prototypes.
            batch_data_samples: samples with metainfo ``ori_shape`` and, when the
                input was padded, ``img_shape`` and ``batch_input_shape``.

        Returns:
            Per image, InstanceData with ``boxes`` (N, 4) absolute x1y1x2y2 in the
            original image, ``labels`` (N,), ``scores`` (N,), ``masks`` (N, H, W) bool,
            ``boxes_rel`` and ``coeffs``.
        """
        results = []
        for detections, image_protos, sample in zip(
            self.detect(outputs), protos, batch_data_samples
        ):
            results.append(
                instances_to_image(
                    detections,
                    image_protos,
                    tuple(sample.metainfo["ori_shape"][:2]),
                    _valid_fraction(sample),
                    self.mask_thresh,
                )
            )
        return results


def _valid_fraction(sample: PanopticDataSample) -> tuple[float, float]:
    """Fraction (h, w) of the network input that the (resized) image covers."""
    img_shape = sample.metainfo.get("img_shape")
    input_shape = sample.metainfo.get("batch_input_shape")
    if img_shape is None or input_shape is None or tuple(img_shape[:2]) == tuple(input_shape):
        return (1.0, 1.0)
    return (img_shape[0] / input_shape[0], img_shape[1] / input_shape[1])


def _relative_ground_truth(sample: PanopticDataSample, device: torch.device) -> InstanceData:
    """Ground truth of one sample with relative boxes, masks padded to the input size."""
    height, width = sample.metainfo["batch_input_shape"]
    gt = sample.gt_instances
    boxes = torch.as_tensor(gt.boxes, dtype=torch.float32, device=device).reshape(-1, 4)
    num = boxes.shape[0]
    masks = torch.as_tensor(gt.masks, device=device).reshape(num, *gt.masks.shape[-2:])
    pad_h, pad_w = height - masks.shape[-2], width - masks.shape[-1]
    if pad_h > 0 or pad_w > 0:
        masks = F.pad(masks, (0, max(pad_w, 0), 0, max(pad_h, 0)))
    iscrowd = gt.iscrowd if "iscrowd" in gt else torch.zeros(num, dtype=torch.bool)
    return InstanceData(
        boxes_rel=boxes / boxes.new_tensor([width, height, width, height]),
        labels=torch.as_tensor(gt.labels, dtype=torch.long, device=device).reshape(-1),
        masks=masks[:, :height, :width].bool(),
        iscrowd=torch.as_tensor(iscrowd, dtype=torch.bool, device=device).reshape(-1),
    )
