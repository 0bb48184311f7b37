# The CPU demo's schedule: 3000 iterations of AdamW in bf16 autocast (fp32 where the CPU has
# no native bf16), 100 warm-up iterations, cosine decay; validation halfway and at the end.
max_iters = 3000
val_interval = 1500
warmup_iters = 100

train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    type="GuardedOptimWrapper",
    optimizer=dict(type="AdamW", lr=2e-3, betas=(0.9, 0.999), weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0, norm_type=2),
    autocast_dtype="bfloat16",
)

param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(
        type="CosineAnnealingLR",
        T_max=max_iters - warmup_iters,
        eta_min_ratio=0.01,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters,
    ),
]
