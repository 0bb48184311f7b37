"""YOLACT, the instance-only top-level model.

Legend: B batch, H/W input height and width, Hp/Wp prototype size, K prototypes.

    images -> ResNet -> YolactFPN -> {YolactHead (p3..p7), Protonet (p3)}
           -> Fast NMS -> assembled masks
"""

from __future__ import annotations

from typing import Any

from mmengine.model import BaseModel
from torch import Tensor

from panoptic.registry import MODELS
from panoptic.structures.panoptic_data_sample import PanopticDataSample


@MODELS.register_module()
class Yolact(BaseModel):
    """YOLACT (Bolya et al., 2019), numerically identical to the authors' model.

    Args:
        backbone: config of the backbone (e.g. ``ResNet``).
        neck: config of the FPN (``YolactFPN``).
        instance_head: config of the prediction head (``YolactHead``).
        protonet: config of the prototype branch (``Protonet``).
        data_preprocessor: config of the data preprocessor.
        init_cfg: mmengine initialisation config.
    """

    cfg: Any  # the full config, attached by ``panoptic.apis.init_model``

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        instance_head: dict,
        protonet: dict,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.instance_head = MODELS.build(instance_head)
        self.protonet = MODELS.build(protonet)

    def extract_feats(self, inputs: Tensor) -> dict[str, Tensor]:
        """Backbone and FPN.

        Args:
            inputs: (B, 3, H, W) normalised images.

        Returns:
            The pyramid ``{"p3": (B, C, H/8, W/8), .., "p7": ...}``.
        """
        return self.neck(self.backbone(inputs))

    def _forward(
        self, inputs: Tensor, data_samples: list[PanopticDataSample] | None = None
    ) -> dict[str, Tensor]:
        """Raw network outputs (mode ``"tensor"``).

        Returns:
            The head outputs (``loc``, ``cls_logits``, ``coeffs``, ``priors``) and
            ``protos`` (B, Hp, Wp, K).
        """
        features = self.extract_feats(inputs)
        outputs = self.instance_head(features)
        outputs["protos"] = self.protonet(features["p3"])
        return outputs

    def loss(self, inputs: Tensor, data_samples: list[PanopticDataSample]) -> dict[str, Tensor]:
        """Training losses (mode ``"loss"``); see :meth:`YolactHead.loss`."""
        _set_input_shape(inputs, data_samples)
        outputs = self._forward(inputs)
        return self.instance_head.loss(outputs, outputs["protos"], data_samples)

    def predict(
        self, inputs: Tensor, data_samples: list[PanopticDataSample]
    ) -> list[PanopticDataSample]:
        """Detections in the original images (mode ``"predict"``).

        Args:
            inputs: (B, 3, H, W) normalised images.
            data_samples: samples with metainfo ``ori_shape`` (and ``img_shape`` when
                the input is padded).

        Returns:
            The samples with ``pred_instances`` (``boxes``, ``labels``, ``scores``,
            ``masks``, ``boxes_rel``, ``coeffs``).
        """
        _set_input_shape(inputs, data_samples)
        outputs = self._forward(inputs)
        results = self.instance_head.predict(outputs, outputs["protos"], data_samples)
        for sample, instances in zip(data_samples, results):
            sample.pred_instances = instances
        return data_samples

    def forward(
        self,
        inputs: Tensor,
        data_samples: list[PanopticDataSample] | None = None,
        mode: str = "tensor",
    ) -> dict[str, Tensor] | list[PanopticDataSample]:
        """Dispatch on ``mode``: ``"loss"``, ``"predict"`` or ``"tensor"``."""
        if mode in ("loss", "predict") and data_samples is None:
            raise ValueError(f"mode {mode!r} needs data_samples")
        if mode == "loss":
            return self.loss(inputs, data_samples)  # type: ignore[arg-type]
        if mode == "predict":
            return self.predict(inputs, data_samples)  # type: ignore[arg-type]
        if mode == "tensor":
            return self._forward(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")


def _set_input_shape(inputs: Tensor, data_samples: list[PanopticDataSample]) -> None:
    for sample in data_samples:
        sample.set_metainfo({"batch_input_shape": tuple(inputs.shape[-2:])})
