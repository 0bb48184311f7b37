# The small synthetic PanopticYolact plus a VPSNet-style tracking head and tracker.
# The image model's tree is inherited unchanged, so its checkpoint loads as is.
_base_ = ["./yolact_upsnet_r18_fpn.py"]

model = dict(
    type="VideoPanopticYolact",
    freeze_detector=True,
    tracking_head=dict(
        type="TrackingHead",
        in_channels=64,
        featmap_names=["p3", "p4", "p5"],
        roi_size=7,
        sampling_ratio=2,
        hidden_channels=256,
        embed_channels=64,
        temperature=0.1,
        box_jitter=0.05,
    ),
    # Affinity = 1.0 * (1 + cos) / 2 + 0.5 * [same class] + 0.5 * box IoU, in [0, 2].
    tracker=dict(
        embed_weight=1.0,
        class_weight=0.5,
        iou_weight=0.5,
        min_affinity=1.0,
        max_age=5,
        momentum=0.5,
    ),
)
