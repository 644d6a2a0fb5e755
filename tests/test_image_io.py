"""src.image_io directly (tests/test_color_transfer.py drives it through the CLI): the streaming
PNG and PPM writers against Pillow's decoder, the PNM reader (grey, comments, other maxvals),
malformed headers, conversions with their notes, writer misuse, and output-path checks."""
import numpy as np
import pytest
from PIL import Image

from src.image_io import (ImageFormatError, check_output_path, create_writer, open_image, read_rgb,
                          write_ppm_header)


def _image(h, w, c, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def _write(path, img, rows):
    with create_writer(path, img.shape[1], img.shape[0], img.shape[2]) as writer:
        for y0 in range(0, img.shape[0], rows):
            writer.write(img[y0:y0 + rows])
    return writer


@pytest.mark.parametrize("channels,rows", [(3, 1), (3, 4), (4, 3), (4, 100)])
def test_streaming_png_writer_decodes_to_the_same_pixels(tmp_path, channels, rows):
    img = _image(11, 13, channels)
    writer = _write(tmp_path / "out.png", img, rows)
    assert writer.streaming
    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == ("RGBA" if channels == 4 else "RGB")
        assert np.array_equal(np.asarray(im), img)
    assert not list(tmp_path.glob(".*.tmp"))


def test_ppm_round_trip_block_by_block(tmp_path):
    img = _image(9, 7, 3)
    assert _write(tmp_path / "out.ppm", img, 2).streaming
    assert (tmp_path / "out.ppm").read_bytes()[:11] == b"P6\n7 9\n255\n"
    with open_image(tmp_path / "out.ppm") as reader:
        assert reader.streaming and (reader.width, reader.height, reader.channels, reader.note) == (7, 9, 3, "")
        blocks = list(reader.blocks(4))
    assert [y0 for y0, _ in blocks] == [0, 4, 8] and [b.shape[0] for _, b in blocks] == [4, 4, 1]
    assert np.array_equal(np.concatenate([b for _, b in blocks]), img)
    with Image.open(tmp_path / "out.ppm") as im:                         # Pillow reads our file too
        assert np.array_equal(np.asarray(im), img)


def test_pgm_with_comments_and_a_small_maxval(tmp_path):
    grey = np.array([[0, 5, 10], [15, 7, 1]], dtype=np.uint8)
    (tmp_path / "g.pgm").write_bytes(b"P5\n# made by hand\n3 # width\n2\n15\n" + grey.tobytes())
    img, note = read_rgb(tmp_path / "g.pgm")
    assert "grey image converted to RGB" in note
    expected = np.round(grey.astype(np.float32) * (255 / 15)).astype(np.uint8)
    assert img.shape == (2, 3, 3) and np.array_equal(img, np.repeat(expected[..., None], 3, axis=2))


@pytest.mark.parametrize("data,message", [
    (b"P6\n3 x\n255\n", "malformed PNM header"),
    (b"P6\n0 2\n255\n", "malformed PNM header"),
    (b"P5\n3 2\n0\n", "malformed PNM header"),
    (b"P6\n3", "truncated PNM header"),
    (b"P6\n1 1\n65535\n\x00\x00\x00\x00\x00\x00", "16-bit PNM images are not supported"),
])
def test_bad_pnm_headers_are_reported(tmp_path, data, message):
    (tmp_path / "bad.ppm").write_bytes(data)
    with pytest.raises(ImageFormatError, match=message):
        open_image(tmp_path / "bad.ppm")


def test_palette_transparency_and_frames_are_converted_with_a_note(tmp_path):
    pal = Image.new("P", (4, 3))
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.putpixel((1, 1), 1)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    img, note = read_rgb(tmp_path / "pal.png")
    assert img.shape == (3, 4, 4) and "transparency converted to RGBA" in note
    assert tuple(img[1, 1]) == (0, 255, 0, 255) and tuple(img[0, 0]) == (255, 0, 0, 0)
    frames = [Image.new("RGB", (5, 4), c) for c in ((10, 20, 30), (200, 100, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    img, note = read_rgb(tmp_path / "anim.gif")
    assert "only the first of 2 frames is used" in note and img.shape == (4, 5, 3)
    Image.new("CMYK", (2, 2), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    img, note = read_rgb(tmp_path / "c.jpg")
    assert "CMYK" in note and img.shape == (2, 2, 3) and img.min() > 240        # no ink: white


def test_the_pillow_pixel_limit_is_restored(tmp_path):
    Image.fromarray(_image(20, 20, 3)).save(tmp_path / "a.png")
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageFormatError, match="max-megapixels"):
        open_image(tmp_path / "a.png", max_megapixels=1e-4)                 # 100 px allowed, 400 given
    with open_image(tmp_path / "a.png", max_megapixels=0) as reader:         # 0: no limit
        assert (reader.width, reader.height, reader.streaming) == (20, 20, False)
    assert Image.MAX_IMAGE_PIXELS == before
    with pytest.raises(FileNotFoundError, match="image not found"):
        open_image(tmp_path / "missing.png")


def test_buffered_pillow_writer(tmp_path):
    img = _image(6, 5, 4)
    writer = _write(tmp_path / "out.tif", img, 4)
    assert not writer.streaming
    with Image.open(tmp_path / "out.tif") as im:
        assert np.array_equal(np.asarray(im), img)


def test_writers_refuse_misuse_and_keep_the_old_file(tmp_path):
    with pytest.raises(ImageFormatError, match="unknown or unwritable image extension '.abc'"):
        create_writer(tmp_path / "x.abc", 2, 2, 3)
    with pytest.raises(FileNotFoundError, match="output folder does not exist"):
        create_writer(tmp_path / "nowhere" / "x.png", 2, 2, 3)
    with pytest.raises(ImageFormatError, match="PPM cannot store an alpha channel"):
        create_writer(tmp_path / "x.ppm", 2, 2, 4)
    out = tmp_path / "kept.png"
    out.write_bytes(b"old")
    w = create_writer(out, 4, 3, 3)
    with pytest.raises(ValueError, match=r"expected a uint8 block \[rows, 4, 3\], got float64 \[1, 4, 3\]"):
        w.write(np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match=r"got uint8 \[1, 5, 3\]"):
        w.write(np.zeros((1, 5, 3), np.uint8))
    w.write(np.zeros((2, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="more rows than the image height 3"):
        w.write(np.zeros((2, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="2 rows written, the image has 3"):
        w.close()
    w.abort()
    assert out.read_bytes() == b"old" and not list(tmp_path.glob(".*.tmp"))
    # an exception inside the with block drops the partial file as well
    with pytest.raises(RuntimeError, match="stop"):
        with create_writer(out, 4, 3, 3) as w:
            w.write(np.zeros((3, 4, 3), np.uint8))
            raise RuntimeError("stop")
    assert out.read_bytes() == b"old" and not list(tmp_path.glob(".*.tmp"))


def test_check_output_path(tmp_path):
    (tmp_path / "in.png").write_bytes(b"x")
    assert check_output_path(tmp_path / "new.png", tmp_path / "in.png") == tmp_path / "new.png"
    (tmp_path / "other.png").write_bytes(b"y")
    assert check_output_path(tmp_path / "other.png", tmp_path / "in.png", tmp_path / "gone.png") == tmp_path / "other.png"
    with pytest.raises(ValueError, match="is the input"):
        check_output_path(tmp_path / "in.png", tmp_path / "other.png", tmp_path / "in.png")
    with pytest.raises(ValueError, match="is a folder"):
        check_output_path(tmp_path, tmp_path / "in.png")
    with pytest.raises(FileNotFoundError, match="output folder does not exist"):
        check_output_path(tmp_path / "no" / "out.png")


def test_write_ppm_header(tmp_path):
    with open(tmp_path / "h.ppm", "wb") as f:
        write_ppm_header(f, 640, 480)
        f.write(bytes(640 * 480 * 3))
    assert (tmp_path / "h.ppm").read_bytes()[:15] == b"P6\n640 480\n255\n"
    with open_image(tmp_path / "h.ppm") as reader:
        assert (reader.width, reader.height) == (640, 480)
