"""Panoptic overlays and GIFs (panoptic.visualization)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from panoptic.visualization import draw_panoptic, segment_caption, segment_color, write_gif

CATEGORIES = [
    dict(id=1, name="circle", isthing=1, color=[220, 20, 60]),
    dict(id=5, name="sky", isthing=0, color=[135, 206, 235]),
]


def scene() -> tuple[np.ndarray, np.ndarray, list[dict]]:
    image = np.full((40, 60, 3), 100, np.uint8)
    id_map = np.zeros((40, 60), np.int32)
    id_map[:20] = 5
    id_map[25:35, 5:15] = 1001
    id_map[25:35, 30:40] = 1002
    segments = [
        dict(id=5, category_id=5, isthing=0),
        dict(id=1001, category_id=1, isthing=1),
        dict(id=1002, category_id=1, isthing=1, iscrowd=1),
    ]
    return image, id_map, segments


def test_overlay_colours_segments_and_leaves_void() -> None:
    image, id_map, segments = scene()
    out = draw_panoptic(image, id_map, segments, CATEGORIES, captions=False)
    assert out.shape == image.shape and out.dtype == np.uint8
    # VOID pixels away from any edge keep the image.
    np.testing.assert_array_equal(out[22, 50], image[22, 50])
    # Sky is blended towards its BGR colour (235, 206, 135).
    assert out[5, 30, 0] > image[5, 30, 0] and out[5, 30, 2] > image[5, 30, 2]
    # Two instances of one class get different colours.
    assert not np.array_equal(out[30, 10], out[30, 35])
    # Segment borders are outlined.
    assert (out[25, 10] == 255).all()


def test_overlay_captions_and_scale() -> None:
    image, id_map, segments = scene()
    plain = draw_panoptic(image, id_map, segments, CATEGORIES, captions=False, scale=3.0)
    captioned = draw_panoptic(image, id_map, segments, CATEGORIES, scale=3.0)
    assert plain.shape == (120, 180, 3)
    assert not np.array_equal(plain, captioned)
    assert segment_caption(segments[1], CATEGORIES[0]) == "circle #1001"
    assert segment_caption(segments[2], CATEGORIES[0]) == "circle #1002 crowd"
    assert segment_caption(segments[0], CATEGORIES[1]) == "sky"
    track = dict(id=7, category_id=1, isthing=1, instance_id=3, score=0.9)
    assert segment_caption(track, CATEGORIES[0]) == "circle #3 0.90"
    np.testing.assert_array_equal(segment_color(segments[0], CATEGORIES[1]), [235, 206, 135])


def test_gif_has_every_frame(tmp_path: Path) -> None:
    frames = [np.full((8, 8, 3), 40 * k, np.uint8) for k in range(5)]
    path = write_gif(frames, tmp_path / "sub" / "clip.gif", fps=5)
    with Image.open(path) as gif:
        assert gif.n_frames == 5
