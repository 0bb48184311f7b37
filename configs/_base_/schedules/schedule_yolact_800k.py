# The YOLACT authors' COCO schedule: SGD lr 1e-3 (batch 8), momentum 0.9, weight decay
# 5e-4, linear warm-up from 1e-4 over 500 iterations, x0.1 at 280k, 600k, 700k and 750k,
# 800k iterations in all; no gradient clipping.
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=800000, val_interval=10000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    type="GuardedOptimWrapper",
    optimizer=dict(type="SGD", lr=1e-3, momentum=0.9, weight_decay=5e-4),
    clip_grad=None,
    autocast_dtype=None,
)

param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=500),
    dict(
        type="MultiStepLR",
        milestones=[280000, 600000, 700000, 750000],
        gamma=0.1,
        by_epoch=False,
        begin=0,
        end=800000,
    ),
]
