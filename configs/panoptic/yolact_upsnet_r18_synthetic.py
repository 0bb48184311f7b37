# A small PanopticYolact (ResNet-18, 64-channel FPN on P3-P5, 16 prototypes) for the
# 160 px synthetic panoptic data (4 thing shapes, 3 stuff textures); trains on 2 CPU cores.
_base_ = [
    "../_base_/models/yolact_upsnet_r18_fpn.py",
    "../_base_/schedules/schedule_warmup_cosine.py",
    "../_base_/default_runtime.py",
]
default_scope = "panoptic"
