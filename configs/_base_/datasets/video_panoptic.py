# Video panoptic data in the Cityscapes-VPS layout used by VPSNet: one JSON per split
# whose `images` carry `video_id` and `frame_index`, `annotations` with `segments_info`
# (a thing keeps its id across frames) and one panoptic PNG per frame. By default this
# points at the synthetic videos written by `tools/make_synthetic.py --video`; for
# Cityscapes-VPS set data_root, ann_file and data_prefix to its files.
default_scope = "panoptic"

data_root = "data/synthetic/"
img_scale = (160, 160)

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadPanopticAnnotations"),
    dict(type="Resize", scale=img_scale, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion", brightness_delta=24, hue_delta=10),
    dict(type="PackPanopticInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=img_scale, keep_ratio=True),
    dict(type="LoadPanopticAnnotations"),
    dict(type="PackPanopticInputs"),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="VideoPanopticDataset",
        data_root=data_root,
        ann_file="annotations/video_panoptic_train.json",
        data_prefix=dict(img="video_images/train/", seg="video_panoptic/train/"),
        ref_range=3,
        num_ref_frames=1,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="VideoPanopticDataset",
        data_root=data_root,
        ann_file="annotations/video_panoptic_val.json",
        data_prefix=dict(img="video_images/val/", seg="video_panoptic/val/"),
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
