# Runtime shared by every training config: hooks, logging, checkpoints, seeds.
# (default_scope is set by the leaf configs: dataset bases set it too, and mmengine
# refuses a key that two bases of one config both define.)

default_hooks = dict(
    runtime_info=dict(type="RuntimeInfoHook"),
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type="ParamSchedulerHook"),
    # Atomic writes; keeps the latest `max_keep_ckpts` and the best PQ checkpoint.
    checkpoint=dict(
        type="AtomicCheckpointHook",
        interval=1000,
        by_epoch=False,
        max_keep_ckpts=2,
        save_best="panoptic/PQ",
        rule="greater",
    ),
    sampler_seed=dict(type="DistSamplerSeedHook"),
)

custom_hooks = [
    # "stop": fail naming the iteration and loss term; "skip": drop such steps and count them.
    dict(type="NanGuardHook", action="stop", max_skipped_steps=100),
    dict(type="RNGStateHook"),
    # NHWC weights: the fast layout for bf16/fp16 convolutions (oneDNN, cuDNN).
    dict(type="ChannelsLastHook"),
    # The model needs the dataset's label -> category id map for its panoptic output.
    dict(type="DatasetMetaHook"),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),
)

vis_backends = [dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")]
visualizer = dict(type="Visualizer", vis_backends=vis_backends, name="visualizer")

log_processor = dict(type="LogProcessor", window_size=50, by_epoch=False)
log_level = "INFO"

randomness = dict(seed=0, deterministic=False)
load_from = None
resume = False
