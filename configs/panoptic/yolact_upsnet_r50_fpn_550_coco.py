# PanopticYolact-R50 at 550 px on COCO panoptic (133 categories: 80 things, 53 stuff):
# YOLACT's instance branch, a semantic head on P3-P5 and UPSNet's parameter-free
# panoptic head. To start the instance branch from the authors'
# yolact_resnet50_54_800000.pth, convert it (tools/convert_yolact_checkpoint.py SRC DST)
# and train with `--cfg-options load_from=DST` (loaded non-strictly: the semantic head
# starts from scratch, the authors' auxiliary semantic conv is left out).
_base_ = [
    "../_base_/models/yolact_upsnet_r50_fpn.py",
    "../_base_/datasets/coco_panoptic.py",
    "../_base_/schedules/schedule_warmup_step.py",
    "../_base_/default_runtime.py",
]
default_scope = "panoptic"

# PQ of pred_panoptic and mask AP of pred_instances, each against the panoptic ground truth.
val_evaluator = [
    dict(type="CocoPanopticMetric"),
    dict(type="CocoInstanceMetric", iou_types=["segm"]),
]
test_evaluator = val_evaluator
