# Synthetic panoptic images generated on the fly (no files): 160x160, 4 thing shapes
# (circle, square, triangle, star; category ids 1-4) and 3 stuff textures (sky, ground,
# water; ids 5-7). Train and val differ by seed. Evaluation keeps the ground truth at the
# original size; the image goes through the same resize as in training.
default_scope = "panoptic"

img_size = 160
generator = dict(
    thing_classes=["circle", "square", "triangle", "star"],
    stuff_classes=["sky", "ground", "water"],
    num_things=[2, 8],
    thing_size=[12, 50],
    touch_prob=0.3,
    min_visible_area=24,
    num_void_blobs=[0, 3],
    void_blob_radius=[2, 5],
    crowd_prob=0.1,
    pond_prob=0.4,
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
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="SyntheticPanopticDataset",
        seed=0,
        num_images=2000,
        img_size=img_size,
        pipeline=train_pipeline,
        **generator,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="SyntheticPanopticDataset",
        seed=1,
        num_images=200,
        img_size=img_size,
        pipeline=test_pipeline,
        test_mode=True,
        **generator,
    ),
)
test_dataloader = val_dataloader
