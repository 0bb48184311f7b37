# YOLACT with a ResNet-50 FPN backbone, the authors' yolact_resnet50_config at 550 px.
default_scope = "panoptic"

model = dict(
    type="Yolact",
    data_preprocessor=dict(
        type="mmengine.ImgDataPreprocessor",
        # The authors' means and stds, given in BGR order (images are read BGR), then
        # the channels are reordered to RGB.
        mean=[103.94, 116.78, 123.68],
        std=[57.38, 57.12, 58.40],
        bgr_to_rgb=True,
        pad_size_divisor=1,
    ),
    backbone=dict(
        type="ResNet",
        depth=50,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        checkpoint=None,
    ),
    neck=dict(
        type="YolactFPN",
        in_channels=[512, 1024, 2048],
        out_channels=256,
        in_names=("c3", "c4", "c5"),
        num_extra_levels=2,
    ),
    instance_head=dict(
        type="YolactHead",
        in_channels=256,
        feat_channels=256,
        num_classes=80,
        num_prototypes=32,
        prior_scales=[[24], [48], [96], [192], [384]],
        prior_aspect_ratios=[[1, 0.5, 2]] * 5,
        prior_base_size=550,
        square_priors=True,
        in_names=("p3", "p4", "p5", "p6", "p7"),
        semantic_aux=True,
        pos_iou_thresh=0.5,
        neg_iou_thresh=0.4,
        crowd_iou_thresh=0.7,
        neg_pos_ratio=3,
        box_loss_weight=1.5,
        mask_loss_weight=6.125,
        semantic_loss_weight=1.0,
        max_masks=100,
        conf_thresh=0.05,
        nms_iou_thresh=0.5,
        nms_top_k=200,
        max_num_detections=100,
        cross_class_nms=False,
        mask_thresh=0.5,
    ),
    protonet=dict(
        type="Protonet",
        in_channels=256,
        channels=256,
        num_prototypes=32,
        num_convs_before_upsample=3,
    ),
)
