# A small PanopticYolact (ResNet-18, 64-channel FPN on P3-P5, 16 prototypes) for the
# 160 px synthetic panoptic data (4 thing shapes, 3 stuff textures); trains on 2 CPU cores.
_base_ = [
    "../_base_/models/yolact_upsnet_r18_fpn.py",
    "../_base_/datasets/synthetic_panoptic.py",
    "../_base_/schedules/schedule_adamw_cosine_cpu_demo.py",
    "../_base_/default_runtime.py",
]
default_scope = "panoptic"

# PQ of pred_panoptic and mask AP of pred_instances, each against the panoptic ground truth.
val_evaluator = [
    dict(type="CocoPanopticMetric"),
    dict(type="CocoInstanceMetric", iou_types=["segm"]),
]
test_evaluator = val_evaluator

# CPU demo (`make demo`): the schedule base trains 3000 iterations of batch 8 in bf16 with
# channels-last weights; a log line every 50 iterations shows progress.
default_hooks = dict(logger=dict(interval=50))
