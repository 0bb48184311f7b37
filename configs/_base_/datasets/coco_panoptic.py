# COCO panoptic 2017 (133 categories, read from the JSON): YOLACT's 550x550 input.
# Layout: data/coco/{train2017,val2017}/ images, data/coco/annotations/panoptic_{split}2017.json
# and the PNG folders data/coco/annotations/panoptic_{split}2017/. Evaluation resizes the
# image with the torch backend (bit-exact with the authors' YOLACT) and keeps the ground
# truth at the original resolution.
default_scope = "panoptic"

data_root = "data/coco/"
img_scale = (550, 550)

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadPanopticAnnotations"),
    dict(type="Resize", scale=img_scale, keep_ratio=False),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion", brightness_delta=32, hue_delta=18),
    dict(type="PackPanopticInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=img_scale, keep_ratio=False, backend="torch"),
    dict(type="LoadPanopticAnnotations"),
    dict(type="PackPanopticInputs"),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoPanopticDataset",
        data_root=data_root,
        ann_file="annotations/panoptic_train2017.json",
        data_prefix=dict(img="train2017/", seg="annotations/panoptic_train2017/"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoPanopticDataset",
        data_root=data_root,
        ann_file="annotations/panoptic_val2017.json",
        data_prefix=dict(img="val2017/", seg="annotations/panoptic_val2017/"),
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
