# Tracking head of the small synthetic video model, trained on the CPU: the image model
# (configs/panoptic/yolact_upsnet_r18_synthetic.py) is loaded from its checkpoint and
# frozen, and only the tracking head learns, from clips of 2 frames (key + reference).
# Validation tracks the 20 synthetic validation videos and reports VPQ, STQ, ID switches.
_base_ = [
    "../_base_/models/video_yolact_upsnet_r18_fpn.py",
    "../_base_/datasets/synthetic_video.py",
    "../_base_/default_runtime.py",
]
default_scope = "panoptic"

# The image model's checkpoint must be given: --cfg-options load_from=PATH/iter_N.pth
# (tools/demo.py passes the one it trained); without it the frozen detector is random.
load_from = None

max_iters = 300
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    type="GuardedOptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0, norm_type=2),
    autocast_dtype=None,
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(
        type="CosineAnnealingLR",
        T_max=max_iters - 30,
        eta_min_ratio=0.05,
        by_epoch=False,
        begin=30,
        end=max_iters,
    ),
]

# Synthetic videos are annotated on every frame: windows of 1-4 frames are k = 0..3.
val_evaluator = dict(type="VideoPanopticMetric", window_lengths=[1, 2, 3, 4], frame_gap=1)
test_evaluator = val_evaluator

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, save_best="video/vpq", rule="greater"),
)
