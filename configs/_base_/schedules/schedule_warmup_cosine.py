# Iteration-based AdamW: linear warm-up, then cosine decay to 1% of the peak learning rate.
max_iters = 20000
val_interval = 2000

train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    type="GuardedOptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0, norm_type=2),
    autocast_dtype=None,
)

param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(
        type="CosineAnnealingLR",
        T_max=max_iters - 200,
        eta_min_ratio=0.01,
        by_epoch=False,
        begin=200,
        end=max_iters,
    ),
]
