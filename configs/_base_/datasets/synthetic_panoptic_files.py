# The synthetic panoptic images as files (COCO panoptic layout), as written by
# `tools/make_synthetic.py --out data/synthetic --split {train,val}` (and `make demo`).
# The file-based tools and evaluators read this copy.
default_scope = "panoptic"

data_root = "data/synthetic/"
img_size = 160

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
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoPanopticDataset",
        data_root=data_root,
        ann_file="annotations/panoptic_train.json",
        data_prefix=dict(img="images/train/", seg="panoptic/train/"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoPanopticDataset",
        data_root=data_root,
        ann_file="annotations/panoptic_val.json",
        data_prefix=dict(img="images/val/", seg="panoptic/val/"),
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
