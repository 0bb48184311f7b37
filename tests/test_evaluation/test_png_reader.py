"""panoptic.evaluation.png: every PNG filter, RGB and RGBA, equal to PIL; damaged files raise."""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from panoptic.evaluation import png

pytestmark = pytest.mark.skipif(not png.numba_available(), reason="numba missing")


def _predictor(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)  # the spec's own wording
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind: int, row: np.ndarray, above: np.ndarray, bpp: int) -> bytes:
    """PNG's forward filter of one row (spec section 9.2), written independently of the reader."""
    out = bytearray()
    for i, value in enumerate(row.tolist()):
        a = int(row[i - bpp]) if i >= bpp else 0
        b = int(above[i])
        c = int(above[i - bpp]) if i >= bpp else 0
        predicted = [0, a, b, (a + b) // 2, _predictor(a, b, c)][kind]
        out.append((value - predicted) % 256)
    return bytes([kind]) + bytes(out)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(
    image: np.ndarray, kinds: list[int], idat_pieces: int = 1, colour_type: int | None = None
) -> bytes:
    """A PNG of an (H, W, 3|4) uint8 image with the given filter per row."""
    height, width, channels = image.shape
    rows = image.reshape(height, width * channels)
    zero = np.zeros(width * channels, np.uint8)
    raw = b"".join(
        filter_row(kinds[y], rows[y], rows[y - 1] if y else zero, channels) for y in range(height)
    )
    stream = zlib.compress(raw, 9)
    cut = np.linspace(0, len(stream), idat_pieces + 1).astype(int)
    colour_type = colour_type if colour_type is not None else {3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        png.PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + b"".join(chunk(b"IDAT", stream[s:e]) for s, e in itertools.pairwise(cut))
        + chunk(b"IEND", b"")
    )


def pil_decode(data: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(data)))


def smooth_image(rng: np.random.Generator, height: int, width: int, channels: int) -> np.ndarray:
    """Flat regions with edges and noise, so every predictor branch is taken."""
    blocks = rng.integers(0, 256, (height // 4 + 1, width // 5 + 1, channels), dtype=np.uint8)
    image = np.repeat(np.repeat(blocks, 4, axis=0), 5, axis=1)[:height, :width].copy()
    noisy = rng.random((height, width)) < 0.1
    image[noisy] = rng.integers(0, 256, (int(noisy.sum()), channels), dtype=np.uint8)
    return image


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4, -1])
def test_each_filter_equals_pil(channels: int, kind: int):
    rng = np.random.default_rng(kind + 10 * channels)
    image = smooth_image(rng, 23, 37, channels)
    kinds = rng.integers(0, 5, 23).tolist() if kind == -1 else [kind] * 23  # -1: mixed rows
    data = encode_png(image, kinds, idat_pieces=3)
    decoded = png.decode_png_rgb(data)
    np.testing.assert_array_equal(decoded, image)
    np.testing.assert_array_equal(decoded, pil_decode(data))


def test_the_plain_python_filters_equal_the_compiled_ones():
    rng = np.random.default_rng(0)
    for bpp in (3, 4):
        src = rng.integers(0, 256, 12 * bpp, dtype=np.uint8)
        above = rng.integers(0, 256, 12 * bpp, dtype=np.uint8)
        for name, args in (
            ("_sub_row", (src,)),
            ("_average_row", (src, above)),
            ("_paeth_row", (src, above)),
        ):
            compiled, python = np.zeros_like(src), np.zeros_like(src)
            getattr(png, name)(*args, compiled, bpp)
            getattr(png, name + "_python")(*args, python, bpp)
            np.testing.assert_array_equal(compiled, python, err_msg=f"{name} bpp={bpp}")


def test_real_coco_pngs_equal_pil(coco_sample_dir: Path):
    for path in sorted((coco_sample_dir / "panoptic_examples").glob("*.png")):
        data = path.read_bytes()
        np.testing.assert_array_equal(png.decode_png_rgb(data), pil_decode(data))


def test_one_pixel_and_one_row_images():
    for shape in [(1, 1, 3), (1, 9, 4), (9, 1, 3)]:
        image = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
        data = encode_png(image, [4] * shape[0])
        np.testing.assert_array_equal(png.decode_png_rgb(data), image)


def test_damaged_files_raise_value_error():
    image = smooth_image(np.random.default_rng(1), 8, 8, 3)
    good = encode_png(image, [2] * 8)
    idat_start = good.index(b"IDAT")
    cases = {
        "bad signature": b"GIF89a" + good[6:],
        "CRC mismatch": good[: idat_start + 6]
        + bytes([good[idat_start + 6] ^ 1])
        + good[idat_start + 7 :],
        "truncated": good[: idat_start + 10],
        "no IHDR chunk": png.PNG_SIGNATURE + chunk(b"IEND", b""),
    }
    for reason, data in cases.items():
        with pytest.raises(ValueError, match=reason if reason != "truncated" else "truncated"):
            png.decode_png_rgb(data)
    # a zlib stream that does not hold H rows, and one whose checksum is wrong
    short = encode_png(image[:7], [2] * 7).replace(
        chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 7, 8, 2, 0, 0, 0)),
        chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)),
    )
    with pytest.raises(ValueError, match=r"holds .* bytes, expected"):
        png.decode_png_rgb(short)
    stream = bytearray(zlib.compress(b"\x00" + bytes(24), 9))
    stream[-1] ^= 1  # the adler-32
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 1, 8, 2, 0, 0, 0))
    bad_adler = png.PNG_SIGNATURE + header + chunk(b"IDAT", bytes(stream)) + chunk(b"IEND", b"")
    with pytest.raises(ValueError, match="cannot be inflated"):
        png.decode_png_rgb(bad_adler)


def test_an_unknown_filter_names_the_row():
    image = smooth_image(np.random.default_rng(2), 4, 4, 3)
    rows = [
        filter_row(2, image[y].ravel(), image[y - 1].ravel() if y else np.zeros(12), 3)
        for y in range(4)
    ]
    rows[2] = b"\x05" + rows[2][1:]
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
    data = (
        png.PNG_SIGNATURE
        + header
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(ValueError, match="row 2 has the unknown filter type 5"):
        png.decode_png_rgb(data)


def test_other_layouts_are_unsupported_not_damaged(tmp_path: Path):
    rng = np.random.default_rng(3)
    grey = Image.fromarray(rng.integers(0, 256, (5, 6), dtype=np.uint8))
    deep = Image.fromarray(rng.integers(0, 2**16, (5, 6), dtype=np.uint16))
    palette = Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)).convert("P")
    for picture in (grey, deep, palette):
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        with pytest.raises(png.UnsupportedPngError):
            png.decode_png_rgb(buffer.getvalue())
    progressive = encode_png(smooth_image(rng, 4, 4, 3), [0] * 4).replace(
        chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)),
        chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 1)),  # Adam7 interlace
    )
    with pytest.raises(png.UnsupportedPngError, match="interlace 1"):
        png.decode_png_rgb(progressive)
