# Synthetic panoptic videos generated on the fly: 160x160, 8 frames each; things move,
# spin, zoom, enter and leave, the stuff pans. Training yields clips (key frame + one
# reference frame at most 3 frames away, the same random augmentation for both);
# evaluation yields the frames of every video in order.
default_scope = "panoptic"

img_size = 160
generator = dict(
    thing_classes=["circle", "square", "triangle", "star"],
    stuff_classes=["sky", "ground", "water"],
    num_things=[2, 6],
    thing_size=[12, 50],
    crowd_prob=0.0,
    num_frames=8,
    max_speed=4.0,
    max_spin=4.0,
    max_zoom=0.02,
    pan_speed=[0.5, 1.5],
    num_entering=[1, 2],
    num_leaving=[1, 2],
)

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadPanopticAnnotations"),
    dict(type="Resize", scale=(img_size, img_size), keep_ratio=False),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion", brightness_delta=24, hue_delta=10),
    dict(type="PackPanopticInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(img_size, img_size), keep_ratio=False),
    dict(type="LoadPanopticAnnotations"),
    dict(type="PackPanopticInputs"),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="SyntheticVideoDataset",
        seed=0,
        num_videos=200,
        img_size=img_size,
        ref_range=3,
        num_ref_frames=1,
        pipeline=train_pipeline,
        **generator,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="SyntheticVideoDataset",
        seed=1,
        num_videos=20,
        img_size=img_size,
        pipeline=test_pipeline,
        test_mode=True,
        **generator,
    ),
)
test_dataloader = val_dataloader
