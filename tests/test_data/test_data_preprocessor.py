"""PanopticDataPreprocessor: normalisation, channel order, padding, clip flattening."""

from __future__ import annotations

import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData, PixelData

from panoptic.data import PanopticDataPreprocessor
from panoptic.registry import MODELS
from panoptic.structures.panoptic_data_sample import PanopticDataSample


def make_sample(height: int, width: int, num: int = 2) -> PanopticDataSample:
    sample = PanopticDataSample(metainfo=dict(img_shape=(height, width)))
    sample.gt_instances = InstanceData(
        masks=torch.ones(num, height, width, dtype=torch.bool),
        labels=torch.zeros(num, dtype=torch.int64),
    )
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, height, width, dtype=torch.int64))
    return sample


def test_images_are_normalised_rgb_and_padded() -> None:
    pre = PanopticDataPreprocessor(
        mean=[1.0, 2.0, 3.0], std=[2.0, 4.0, 8.0], bgr_to_rgb=True, pad_size_divisor=8, pad_value=-1
    )
    a = torch.stack([torch.full((5, 6), v, dtype=torch.uint8) for v in (10, 20, 30)])  # BGR
    b = torch.zeros(3, 9, 4, dtype=torch.float32)
    out = pre(dict(inputs=[a, b], data_samples=[make_sample(5, 6), make_sample(9, 4)]), True)
    images, samples = out["inputs"], out["data_samples"]
    assert images.shape == (2, 3, 16, 8) and images.dtype == torch.float32
    # BGR (10, 20, 30) -> RGB (30, 20, 10), then (x - mean) / std.
    expected = torch.tensor([(30 - 1) / 2, (20 - 2) / 4, (10 - 3) / 8])
    torch.testing.assert_close(images[0, :, :5, :6], expected.view(3, 1, 1).expand(3, 5, 6))
    assert (images[0, :, 5:] == -1).all() and (images[0, :, :, 6:] == -1).all()
    for sample in samples:
        assert sample.batch_input_shape == (16, 8) and sample.pad_shape == (16, 8)
        assert sample.gt_instances.masks.shape == (2, 16, 8)
        assert sample.gt_sem_seg.data.shape == (1, 16, 8)
    assert samples[0].gt_instances.masks[:, :5, :6].all()
    assert not samples[0].gt_instances.masks[:, 5:].any()
    assert (samples[0].gt_sem_seg.data[:, :, 6:] == 255).all()


def test_clips_are_flattened_clip_major() -> None:
    pre = MODELS.build(
        dict(
            type="PanopticDataPreprocessor",
            mean=[0, 0, 0],
            std=[1, 1, 1],
            bgr_to_rgb=False,
            pad_size_divisor=1,
        )
    )
    clips = [torch.full((3, 3, 4, 4), float(c)) for c in range(2)]
    for clip in clips:
        clip[:, 0] += torch.arange(3.0).view(3, 1, 1)  # frame index in channel 0
    samples = [[make_sample(4, 4) for _ in range(3)] for _ in range(2)]
    for c, clip_samples in enumerate(samples):
        for t, sample in enumerate(clip_samples):
            sample.set_metainfo(dict(img_id=10 * c + t, clip_pos=t))
    out = pre(dict(inputs=clips, data_samples=samples), False)
    assert out["inputs"].shape == (6, 3, 4, 4)
    assert out["inputs"][:, 1, 0, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert out["inputs"][:, 0, 0, 0].tolist() == [0, 1, 2, 1, 2, 3]
    assert [s.clip_len for s in out["data_samples"]] == [3] * 6
    assert [s.img_id for s in out["data_samples"]] == [0, 1, 2, 10, 11, 12]


def test_clip_batches_from_pseudo_collate_stay_clip_major() -> None:
    pre = PanopticDataPreprocessor(
        mean=[0, 0, 0], std=[1, 1, 1], bgr_to_rgb=False, pad_size_divisor=1
    )
    items = []
    for c in range(2):
        samples = [make_sample(4, 4) for _ in range(2)]
        for t, sample in enumerate(samples):
            sample.set_metainfo(dict(img_id=10 * c + t, clip_pos=t))
        items.append(dict(inputs=torch.zeros(2, 3, 4, 4, dtype=torch.uint8), data_samples=samples))
    batch = pseudo_collate(items)
    assert [s.img_id for s in batch["data_samples"][0]] == [0, 10]  # frame-major
    out = pre(batch, True)
    assert [s.img_id for s in out["data_samples"]] == [0, 1, 10, 11]
