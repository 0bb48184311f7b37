# YOLACT-R50 at 550 px on COCO, the authors' yolact_resnet50_config: 81 class logits
# (background + 80 thing classes), batch 8, 800k iterations. Their released
# yolact_resnet50_54_800000.pth loads through init_model (converted on the fly) or
# tools/convert_yolact_checkpoint.py. Trains on the things of COCO panoptic.
_base_ = [
    "../_base_/models/yolact_r50_fpn.py",
    "../_base_/datasets/coco_panoptic.py",
    "../_base_/schedules/schedule_yolact_800k.py",
    "../_base_/default_runtime.py",
]
default_scope = "panoptic"

val_evaluator = dict(type="CocoInstanceMetric", iou_types=["segm", "bbox"])
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best="coco/segm_mAP"))
