# YOLACT-R50 at 550 px on COCO, the authors' yolact_resnet50_config (81 logits: 80 thing
# classes + background). Their released yolact_resnet50_54_800000.pth loads through
# init_model (converted on the fly) or tools/convert_yolact_checkpoint.py.
_base_ = ["../_base_/models/yolact_r50_fpn.py"]
default_scope = "panoptic"
