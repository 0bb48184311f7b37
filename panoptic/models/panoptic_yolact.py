"""PanopticYolact: YOLACT + a semantic branch + UPSNet's panoptic head on one FPN.

Legend: B batch, A priors, N instances (padded to the batch's largest count),
K prototypes, C = T + S semantic classes (T things first, S stuff), Hp/Wp the
prototype grid (stride 4), which is also the semantic logits' grid.

    images -> ResNet -> YolactFPN -> YolactHead (p3..p7) -> Fast NMS -> detections
                                  -> Protonet (p3)        -> prototypes
                                  -> SemanticHead (p3..p5) -> semantic logits
    detections @ prototypes (mask logits) + semantic logits -> panoptic head
                                  -> pred_panoptic (+ pred_instances)

In training the panoptic head sees the ground-truth instances, each with the
mean coefficients of the priors matched to it, so the panoptic loss trains the
prototypes, the coefficients and the semantic logits together.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.structures import BaseDataElement, InstanceData
from torch import Tensor

from panoptic.models.heads.semantic_head import sample_label_map
from panoptic.models.yolact import Yolact
from panoptic.registry import MODELS
from panoptic.structures.panoptic_data_sample import PanopticDataSample


def matched_coefficients(
    coeffs: Tensor, gt_index: Tensor, positive: Tensor, num_instances: int
) -> tuple[Tensor, Tensor]:
    """Mean coefficients of the positive priors matched to each instance.

    Args:
        coeffs: (A, K) coefficients of one image.
        gt_index: (A,) int64 instance index of every prior.
        positive: (A,) bool positive priors.
        num_instances: N.

    Returns:
        (N, K) mean coefficients and (N,) bool: the instance has a positive prior.
    """
    index = gt_index[positive]  # (P,)
    sums = coeffs.new_zeros(num_instances, coeffs.shape[1]).index_add(0, index, coeffs[positive])
    counts = torch.bincount(index, minlength=num_instances)[:num_instances]  # (N,)
    return sums / counts.clamp(min=1)[:, None].to(sums.dtype), counts > 0


def pad_instances(values: Sequence[Tensor], fill: float) -> Tensor:
    """Stacks per-image (n_b, ...) tensors into (B, N, ...) padded with ``fill``.

    Args:
        values: B tensors of shape (n_b, *rest) sharing ``rest``, dtype and device.
        fill: value of the padding.

    Returns:
        (B, max n_b, *rest).
    """
    N = max((v.shape[0] for v in values), default=0)
    rest = values[0].shape[1:]
    out = values[0].new_full((len(values), N, *rest), fill)
    for b, v in enumerate(values):
        out[b, : v.shape[0]] = v
    return out


@MODELS.register_module()
class PanopticYolact(Yolact):
    """YOLACT with a semantic branch and a panoptic fusion module.

    Args:
        backbone: config of the backbone (``ResNet``).
        neck: config of the FPN (``YolactFPN``).
        instance_head: config of the ``YolactHead`` (``semantic_aux`` off: the
            semantic head replaces the authors' auxiliary loss).
        protonet: config of the ``Protonet``.
        semantic_head: config of the ``SemanticHead`` (its logits on the prototype grid).
        panoptic_head: config of the fusion module (``UPSNetPanopticHead`` or
            ``HeuristicFusion``).
        data_preprocessor: config of the data preprocessor.
        init_cfg: mmengine initialisation config.

    ``label2cat`` (semantic label -> dataset category id) for the output segments
    comes from the samples' metainfo, else from ``dataset_meta`` (set by
    :func:`panoptic.apis.init_model` from the checkpoint), else ``label + 1``.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        instance_head: dict,
        protonet: dict,
        semantic_head: dict,
        panoptic_head: dict,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            instance_head=instance_head,
            protonet=protonet,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
        )
        self.semantic_head = MODELS.build(semantic_head)
        self.panoptic_head = MODELS.build(panoptic_head)
        self.dataset_meta: dict | None = None

    def _forward(
        self, inputs: Tensor, data_samples: list[PanopticDataSample] | None = None
    ) -> dict[str, Tensor]:
        """Raw outputs (mode ``"tensor"``): the YOLACT head's, ``protos`` (B, Hp, Wp, K)
        and ``sem_logits`` (B, C, Hp, Wp)."""
        feats = self.extract_feats(inputs)
        outputs = self.instance_head(feats)
        outputs["protos"] = self.protonet(feats["p3"])
        outputs["sem_logits"] = self.semantic_head(feats)
        return outputs

    def loss(self, inputs: Tensor, data_samples: list[PanopticDataSample]) -> dict[str, Tensor]:
        """YOLACT, semantic and panoptic losses (mode ``"loss"``).

        Args:
            inputs: (B, 3, H, W) normalised images.
            data_samples: samples with ``gt_instances`` (absolute boxes in the input,
                ``labels``, ``masks``, optional ``iscrowd``) and ``gt_sem_seg``.

        Returns:
            ``loss_box``, ``loss_cls``, ``loss_mask``, ``loss_semantic``, ``loss_panoptic``.
        """
        _set_batch_input_shape(inputs, data_samples)
        outputs = self._forward(inputs)
        sem_logits = outputs.pop("sem_logits")
        protos = outputs["protos"]
        losses = self.instance_head.loss(outputs, protos, data_samples)
        losses.update(self.semantic_head.loss(sem_logits, data_samples))

        _check_grid(sem_logits, protos)
        mask_logits, boxes, labels, valid, inst_masks = self._ground_truth_instances(
            outputs, protos, data_samples
        )
        sem_targets = self.semantic_head.targets(sem_logits, data_samples)
        losses.update(
            self.panoptic_head.loss(
                sem_logits, mask_logits, boxes, labels, valid, inst_masks, sem_targets
            )
        )
        return losses

    def _ground_truth_instances(
        self, outputs: dict[str, Tensor], protos: Tensor, data_samples: list[PanopticDataSample]
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Padded ground-truth instances on the prototype grid, with their mask logits.

        Returns:
            ``mask_logits`` (B, N, Hp, Wp) (prototypes @ matched coefficients),
            ``boxes`` (B, N, 4) in grid pixels, ``labels`` (B, N), ``valid`` (B, N)
            (real, non-crowd, with a positive prior), ``masks`` (B, N, Hp, Wp) bool.
        """
        Hp, Wp = protos.shape[1:3]
        scale = protos.new_tensor([Wp, Hp, Wp, Hp], dtype=torch.float32)
        logits, boxes, labels, valid, masks = [], [], [], [], []
        for i, (things, assignment) in enumerate(self.instance_head.match(outputs, data_samples)):
            coeffs, has_prior = matched_coefficients(
                outputs["coeffs"][i], assignment.gt_index, assignment.positive, len(things)
            )
            # (Hp, Wp, K) @ (K, n) -> (Hp, Wp, n) -> (n, Hp, Wp)
            logits.append((protos[i] @ coeffs.t().to(protos.dtype)).permute(2, 0, 1))
            boxes.append(things.boxes_rel.float() * scale)
            labels.append(things.labels)
            valid.append(has_prior)
            masks.append(sample_label_map(things.masks[None], (Hp, Wp))[0])
        return (
            pad_instances(logits, 0.0),
            pad_instances(boxes, 0.0),
            pad_instances(labels, 0),
            pad_instances(valid, False),
            pad_instances(masks, False),
        )

    def predict(
        self, inputs: Tensor, data_samples: list[PanopticDataSample]
    ) -> list[PanopticDataSample]:
        """Instances and panoptic segmentation in the original images (mode ``"predict"``).

        Args:
            inputs: (B, 3, H, W) normalised images.
            data_samples: samples with metainfo ``ori_shape`` and ``img_shape``.

        Returns:
            The samples with ``pred_instances`` (see :meth:`YolactHead.predict`) and
            ``pred_panoptic`` (``id_map`` (H0, W0) int32, ``segments``).
        """
        _set_batch_input_shape(inputs, data_samples)
        outputs = self._forward(inputs)
        for sample, instances in zip(
            data_samples, self.instance_head.predict(outputs, outputs["protos"], data_samples)
        ):
            sample.pred_instances = instances
        panoptic = self.predict_panoptic(outputs, data_samples)
        for sample, result in zip(data_samples, panoptic):
            sample.pred_panoptic = result
        return data_samples

    def predict_panoptic(
        self, outputs: dict[str, Tensor], data_samples: list[PanopticDataSample]
    ) -> list[BaseDataElement]:
        """The panoptic stage alone: fuse ``pred_instances`` with the semantic logits.

        Args:
            outputs: :meth:`_forward` outputs (``protos``, ``sem_logits``).
            data_samples: samples with ``pred_instances`` (``boxes_rel``, ``labels``,
                ``scores``, ``coeffs``) and metainfo ``img_shape``, ``ori_shape``,
                ``batch_input_shape``.

        Returns:
            One ``pred_panoptic`` element per sample.
        """
        protos, sem_logits = outputs["protos"], outputs["sem_logits"]
        Hp, Wp = _check_grid(sem_logits, protos)
        # Detections under the fusion module's score threshold never enter it: drop them
        # before their mask logits are computed (index the needed fields only, not the
        # full-size masks).
        min_score = self.panoptic_head.score_thresh
        instances: list[InstanceData] = [s.pred_instances for s in data_samples]
        keep = [torch.nonzero(d.scores >= min_score).flatten() for d in instances]
        coeffs = pad_instances([d.coeffs[k].float() for d, k in zip(instances, keep)], 0.0)
        mask_logits = torch.einsum("bhwk,bnk->bnhw", protos.float(), coeffs)  # (B, N, Hp, Wp)
        scale = protos.new_tensor([Wp, Hp, Wp, Hp], dtype=torch.float32)
        boxes = pad_instances(
            [d.boxes_rel[k].float() * scale for d, k in zip(instances, keep)], 0.0
        )
        labels = pad_instances([d.labels[k].long() for d, k in zip(instances, keep)], 0)
        scores = pad_instances([d.scores[k].float() for d, k in zip(instances, keep)], 0.0)
        valid = pad_instances(
            [torch.ones(len(k), dtype=torch.bool, device=protos.device) for k in keep], False
        )
        stride = data_samples[0].batch_input_shape[0] / Hp
        return self.panoptic_head.predict(
            sem_logits,
            mask_logits,
            boxes,
            labels,
            scores,
            valid,
            data_samples,
            stride,
            self.label2cat(data_samples[0]),
        )

    def label2cat(self, sample: PanopticDataSample) -> dict[int, int]:
        """Semantic label -> dataset category id (see the class docstring)."""
        if "label2cat" in sample.metainfo:
            return {int(k): int(v) for k, v in sample.metainfo["label2cat"].items()}
        if self.dataset_meta is not None and "label2cat" in self.dataset_meta:
            return {int(k): int(v) for k, v in self.dataset_meta["label2cat"].items()}
        num_classes = self.semantic_head.num_classes
        return {label: label + 1 for label in range(num_classes)}


def _check_grid(sem_logits: Tensor, protos: Tensor) -> tuple[int, int]:
    """The shared (Hp, Wp) grid; the semantic logits must match the prototypes."""
    grid = tuple(protos.shape[1:3])
    if tuple(sem_logits.shape[-2:]) != grid:
        raise ValueError(
            f"semantic logits {tuple(sem_logits.shape[-2:])} and prototypes {grid} must share "
            "one grid: set semantic_head.upsample_factor so that P3 * factor = protonet size"
        )
    return grid  # type: ignore[return-value]


def _set_batch_input_shape(inputs: Tensor, data_samples: list[PanopticDataSample]) -> None:
    for sample in data_samples:
        sample.set_metainfo({"batch_input_shape": tuple(inputs.shape[-2:])})
