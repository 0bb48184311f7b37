# YOLACT-R101 at 550 px on COCO, the authors' yolact_base_config (the R50 settings with
# a ResNet-101). Their released yolact_base_54_800000.pth loads through init_model
# (converted on the fly) or tools/convert_yolact_checkpoint.py.
_base_ = ["./yolact_r50_fpn_550_coco.py"]
default_scope = "panoptic"

model = dict(backbone=dict(depth=101))
