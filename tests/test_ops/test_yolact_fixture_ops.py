"""Both backends of Fast NMS and mask assembly reproduce the authors' YOLACT-R50 outputs.

The fixture (tests/data/yolact_official_r50, see its README) stores the raw network outputs and
the authors' detections, assembled masks and final image masks; the Triton kernels run under the
interpreter on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from panoptic.ops import assemble_masks, fast_nms

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

BACKENDS = ["reference", "triton"]


@pytest.fixture
def official(yolact_fixture_dir: Path) -> dict[str, torch.Tensor]:
    with np.load(yolact_fixture_dir / "official_outputs.npz") as arrays:
        return {name: torch.from_numpy(arrays[name]) for name in arrays.files}


def decode_boxes(loc: torch.Tensor, priors_cxcywh: torch.Tensor) -> torch.Tensor:
    """SSD box decoding with variances (0.1, 0.2), to relative x1y1x2y2.

    Args:
        loc: (A, 4) regressions.
        priors_cxcywh: (A, 4) anchors, relative centre form.

    Returns:
        (A, 4) relative x1y1x2y2 boxes.
    """
    centers = priors_cxcywh[:, :2] + loc[:, :2] * 0.1 * priors_cxcywh[:, 2:]
    sizes = priors_cxcywh[:, 2:] * torch.exp(loc[:, 2:] * 0.2)
    top_left = centers - sizes / 2
    return torch.cat([top_left, top_left + sizes], dim=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_nms_reproduces_official_detections(
    official: dict[str, torch.Tensor], backend: str
) -> None:
    boxes_rel = decode_boxes(official["loc"][0], official["priors"])  # (A, 4)
    class_scores = official["conf"][0, :, 1:].t()  # (C, A) without background
    candidates = class_scores.max(dim=0).values > 0.05  # the authors' conf_thresh
    indices, classes, scores = fast_nms(
        boxes_rel[candidates],
        class_scores[:, candidates],
        iou_thresh=0.5,
        top_k=200,
        max_num_detections=100,
        backend=backend,
    )
    assert torch.equal(classes, official["det_class"])
    torch.testing.assert_close(scores, official["det_score"], atol=1e-5, rtol=0)
    torch.testing.assert_close(
        boxes_rel[candidates][indices], official["det_box"], atol=1e-5, rtol=0
    )
    coeffs = official["mask"][0][candidates][indices]
    torch.testing.assert_close(coeffs, official["det_coeff"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_assembly_reproduces_official_masks(
    official: dict[str, torch.Tensor], backend: str
) -> None:
    protos = official["proto"][0]  # (138, 138, 32)
    probs = assemble_masks(
        protos, official["det_coeff"][:20], official["det_box"][:20], backend=backend
    )
    torch.testing.assert_close(probs, official["assembled_mask_probs_top20"], atol=1e-4, rtol=0)

    num_masks, height, width = official["post_masks_shape"].tolist()
    masks = assemble_masks(
        protos,
        official["det_coeff"][:num_masks],
        official["det_box"][:num_masks],
        out_size=(height, width),
        threshold=0.5,
        backend=backend,
    )
    expected = np.unpackbits(official["post_masks_top"].numpy(), axis=-1)[..., :width]
    expected = torch.from_numpy(expected.astype(bool))
    assert masks.shape == expected.shape == (num_masks, height, width)
    assert expected.any()
    assert (masks == expected).float().mean() > 0.999
