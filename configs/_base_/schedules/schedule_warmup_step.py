# Iteration-based SGD: linear warm-up, then x0.1 steps. Leaf configs override the numbers.
max_iters = 20000
val_interval = 2000

train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    type="GuardedOptimWrapper",
    optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=35.0, norm_type=2),
    autocast_dtype=None,
)

param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type="MultiStepLR",
        milestones=[14000, 18000],
        gamma=0.1,
        by_epoch=False,
        begin=0,
        end=max_iters,
    ),
]
