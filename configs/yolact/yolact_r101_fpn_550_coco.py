# YOLACT-R101 at 550 px on COCO, the authors' yolact_base_config (81 logits: 80 thing
# classes + background). Their released yolact_base_54_800000.pth loads through
# init_model (converted on the fly) or tools/convert_yolact_checkpoint.py.
_base_ = ["../_base_/models/yolact_r50_fpn.py"]
default_scope = "panoptic"
model = dict(backbone=dict(depth=101))
