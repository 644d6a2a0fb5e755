"""Colour transfer: CLI round trip on tiny generated images, LUT accuracy against exact
per-pixel evaluation, block streaming, RGBA/grey/16-bit handling and error messages."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from src.color_transfer import (ColorMap, ColorTable, MapFileError, apply_array, apply_file, check_colours,
                                interpolate_lut, read_cube)
from src.color_transfer.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _photo(h, w, seed, warm):
    """A smooth, photo-like colour image: gradients plus blobs, warm or cool hues."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([x, y, 0.5 * (x + y)], -1)
    blobs = sum(np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.02)[..., None] * rng.uniform(0, 1, 3)
                for cx, cy in rng.uniform(0, 1, (4, 2)))
    img = 0.6 * base + 0.4 * blobs
    img = img[..., [0, 2, 1]] * [1.0, 0.7, 0.4] if warm else img * [0.4, 0.8, 1.0]
    return (np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ct")
    Image.fromarray(_photo(24, 32, 0, warm=False)).save(d / "source.png")
    Image.fromarray(_photo(20, 30, 1, warm=True)).save(d / "palette.png")
    code = main(["fit", str(d / "source.png"), str(d / "palette.png"), "--out", str(d / "map.pt"),
                 "--iterations", "20", "--seed", "3", "--profile", "smoke", "--quiet"])
    assert code == 0
    return d


@pytest.fixture(scope="module")
def cmap(files):
    return ColorMap.load(files / "map.pt")


def test_map_file_contents(files, cmap):
    state = torch.load(files / "map.pt", weights_only=True)
    assert state["format"] == "w2gn-color-transfer"
    assert state["D_config"]["in_dim"] == 3 and state["D_conj_config"]["hidden_layer_sizes"] == [16, 16]
    md = cmap.metadata
    assert md["seed"] == 3 and md["iterations"] == 20 and md["source"] == "source.png"
    assert set(md["lut"]) == {"forward", "inverse"}
    # the nets are reproduced exactly
    x = torch.rand(100, 3)
    assert not torch.allclose(cmap.map_float(x), cmap.map_float(x, inverse=True))


def test_cli_apply_matches_exact_and_inverse(files, cmap):
    src = files / "source.png"
    assert main(["apply", str(files / "map.pt"), str(src), str(files / "out.png"), "--quiet"]) == 0
    assert main(["apply", str(files / "map.pt"), str(src), str(files / "exact.png"), "--method", "exact", "--quiet"]) == 0
    out = np.asarray(Image.open(files / "out.png"))
    exact = np.asarray(Image.open(files / "exact.png"))
    source = np.asarray(Image.open(src))
    assert out.shape == source.shape and out.dtype == np.uint8
    assert np.array_equal(out, exact)      # auto → network once per distinct colour: exact
    assert np.abs(out.astype(int) - source.astype(int)).mean() > 2      # the map did something
    assert np.array_equal(exact, cmap.map_exact_uint8(source))
    assert main(["apply", str(files / "map.pt"), str(src), str(files / "inv.png"), "--inverse", "--quiet"]) == 0
    inv = np.asarray(Image.open(files / "inv.png")).astype(int)
    assert np.abs(inv - cmap.map_exact_uint8(source, inverse=True).astype(int)).max() <= 1


def test_export_cube_parses_back(files, cmap):
    out = files / "grade.cube"
    assert main(["export-cube", str(files / "map.pt"), str(out), "--size", "9"]) == 0
    text = out.read_text().splitlines()
    assert "LUT_3D_SIZE 9" in text and "DOMAIN_MIN 0.0 0.0 0.0" in text and "DOMAIN_MAX 1.0 1.0 1.0" in text
    lut, header = read_cube(out)
    assert header["LUT_3D_SIZE"] == 9 and lut.shape == (9, 9, 9, 3)
    assert lut.min() >= 0 and lut.max() <= 1
    # lut[r, g, b] is the map of the colour (r, g, b)/8 (red varies fastest in the file)
    for r, g, b in [(0, 0, 0), (8, 0, 0), (0, 8, 0), (0, 0, 8), (3, 5, 7), (8, 8, 8)]:
        exact = cmap.map_float(torch.tensor([[r, g, b]], dtype=torch.float32) / 8).clamp(0, 1)
        assert np.allclose(lut[r, g, b], exact.numpy()[0], atol=1e-5)
    data = [ln for ln in text if ln and ln[0].isdigit()]
    assert len(data) == 9 ** 3
    assert np.allclose([float(v) for v in data[1].split()], lut[1, 0, 0], atol=1e-6)
    bad = files / "bad.cube"
    bad.write_text("LUT_3D_SIZE 2\n0 0 0\n1 1 1\n")
    with pytest.raises(ValueError, match="needs 8"):
        read_cube(bad)


def test_distinct_colour_table_is_exact(cmap):
    colours = torch.randint(0, 256, (30000, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)).numpy()
    present = np.zeros(1 << 24, dtype=bool)
    present[colours[:, 0].astype(np.uint32) | colours[:, 1].astype(np.uint32) << 8 | colours[:, 2].astype(np.uint32) << 16] = True
    for inverse in (False, True):
        table = ColorTable.exact(cmap, present, inverse)
        assert table.evaluations == present.sum() and table.method == "distinct"
        assert np.array_equal(table.map(colours), cmap.map_exact_uint8(colours, inverse))


def test_lut_error_at_most_one_level(cmap):
    """Trilinear LUT vs exact per-pixel network evaluation: ≤ 1/255 (checked on fresh colours)."""
    for inverse in (False, True):
        rec = cmap.metadata["lut"]["inverse" if inverse else "forward"]
        assert rec["usable"] and rec["max_error"] <= rec["tolerance"] <= 1 / 255
        size = rec["size"]
        lut = cmap.lut(size, inverse)
        colours = torch.cat([check_colours(20000, size, seed=123), torch.randint(0, 256, (20000, 3), dtype=torch.uint8)])
        x = colours.float() / 255
        exact = cmap.map_float(x, inverse).clamp(0, 1)
        approx = interpolate_lut(lut, x).clamp(0, 1)
        assert float((exact - approx).abs().max()) <= 1 / 255
        table = ColorTable.from_lut(lut).map(colours.numpy()).astype(int)
        exact8 = (exact * 255).round().numpy().astype(int)
        assert np.abs(table - exact8).max() <= 1


def test_table_is_trilinear_interpolation():
    g = torch.Generator().manual_seed(0)
    # affine maps are reproduced exactly by trilinear interpolation: the table must equal them
    A = torch.eye(3) * 0.7 + 0.2 * torch.rand(3, 3, generator=g) - 0.05   # no exact .5 ties after ×255
    axis = torch.linspace(0, 1, 5)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1)
    lut = grid @ A.T + torch.tensor([0.1, 0.05, 0.2])
    colours = torch.randint(0, 256, (5000, 3), generator=g, dtype=torch.uint8)
    want = ((colours.float() / 255) @ A.T + torch.tensor([0.1, 0.05, 0.2])).clamp(0, 1).mul(255).round()
    got = ColorTable.from_lut(lut).map(colours.numpy())
    assert np.abs(got.astype(int) - want.numpy().astype(int)).max() <= 1   # float32 rounding near ties
    assert (got == want.numpy().astype(np.uint8)).mean() > 0.999
    # a random LUT: the separable table equals grid_sample trilinear interpolation
    lut = torch.rand(7, 7, 7, 3, generator=g) * 1.2 - 0.1
    ref = interpolate_lut(lut, colours.float() / 255).clamp(0, 1).mul(255).round().numpy()
    assert np.abs(ColorTable.from_lut(lut).map(colours.numpy()).astype(int) - ref.astype(int)).max() <= 1


def test_block_streaming_equals_whole_image(files, cmap):
    src = np.asarray(Image.open(files / "source.png"))
    Image.fromarray(src).save(files / "source.ppm")            # binary PPM: read by rows from disk
    table = cmap.table()
    whole = table.map(src)
    for inp, rows, out in [("source.png", 1000, "a.png"), ("source.png", 5, "b.png"),
                           ("source.ppm", 7, "c.png"), ("source.ppm", 3, "d.ppm")]:
        stats = apply_file(cmap, files / inp, files / out, block_rows=rows, progress=False, table=table)
        assert stats["streaming_input"] == inp.endswith(".ppm")
        assert np.array_equal(np.asarray(Image.open(files / out)), whole), (inp, rows, out)
    assert np.array_equal(apply_array(table, src, block_pixels=50), whole)
    # the two-pass distinct-colour path, in blocks and whole, equals per-pixel evaluation
    exact = cmap.map_exact_uint8(src)
    n_colours = len(np.unique(src.reshape(-1, 3), axis=0))
    for rows in (4, 1000):
        stats = apply_file(cmap, files / "source.ppm", files / "e.png", method="distinct", block_rows=rows, progress=False)
        assert stats["method"] == "distinct" and stats["distinct_colours"] == stats["network_evaluations"] == n_colours
        assert np.array_equal(np.asarray(Image.open(files / "e.png")), exact)
    # auto: the tiny image has fewer colours than the LUT has nodes → distinct; lut on request
    assert apply_file(cmap, files / "source.png", files / "f.png", progress=False)["method"] == "distinct"
    stats = apply_file(cmap, files / "source.png", files / "f.png", method="lut", progress=False)
    assert stats["method"] == "lut" and stats["lut_size"] == cmap.metadata["lut"]["forward"]["size"]


def test_rgba_alpha_kept_and_grey_converted(files, cmap, capsys):
    src = np.asarray(Image.open(files / "source.png"))
    alpha = np.arange(src.shape[0] * src.shape[1], dtype=np.uint8).reshape(src.shape[:2])
    Image.fromarray(np.dstack([src, alpha]), "RGBA").save(files / "rgba.png")
    assert main(["apply", str(files / "map.pt"), str(files / "rgba.png"), str(files / "rgba_out.png"), "--quiet"]) == 0
    out = Image.open(files / "rgba_out.png")
    assert out.mode == "RGBA"
    out = np.asarray(out)
    assert np.array_equal(out[..., 3], alpha)
    assert np.array_equal(out[..., :3], cmap.map_exact_uint8(src))
    rc = main(["apply", str(files / "map.pt"), str(files / "rgba.png"), str(files / "x.jpg"), "--quiet"])
    assert rc == 2 and "alpha" in capsys.readouterr().err
    assert not (files / "x.jpg").exists()
    grey = src.mean(axis=2).astype(np.uint8)
    Image.fromarray(grey, "L").save(files / "grey.png")
    assert main(["apply", str(files / "map.pt"), str(files / "grey.png"), str(files / "grey_out.png"), "--quiet"]) == 0
    assert "grey image converted to RGB" in capsys.readouterr().err
    out = np.asarray(Image.open(files / "grey_out.png"))
    assert out.shape == src.shape
    assert np.array_equal(out, cmap.map_exact_uint8(np.repeat(grey[..., None], 3, axis=2)))


def test_16bit_refused(files, capsys):
    Image.fromarray((np.arange(600, dtype=np.uint16) * 100).reshape(20, 30)).save(files / "g16.png")
    import tifffile

    tifffile.imwrite(files / "rgb16.tif", (np.random.rand(8, 9, 3) * 65535).astype(np.uint16))
    for name in ("g16.png", "rgb16.tif"):
        assert main(["apply", str(files / "map.pt"), str(files / name), str(files / "o.png"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "16-bit" in err and "Convert to 8-bit" in err, err


def test_error_messages(files, capsys):
    mp = str(files / "map.pt")
    (files / "notes.png").write_text("this is not an image")
    (files / "cut.ppm").write_bytes(b"P6\n40 30\n255\n" + bytes(100))
    torch.save({"weights": torch.zeros(3)}, files / "other.pt")
    cases = [
        (["apply", mp, str(files / "notes.png"), str(files / "o.png")], "not an image file"),
        (["apply", mp, str(files / "missing.png"), str(files / "o.png")], "image not found"),
        (["apply", str(files / "source.png"), str(files / "source.png"), str(files / "o.png")], "not a PyTorch .pt file"),
        (["apply", str(files / "other.pt"), str(files / "source.png"), str(files / "o.png")], "not a colour-transfer map"),
        (["export-cube", str(files / "nothere.pt"), str(files / "o.cube")], "map file not found"),
        (["apply", mp, str(files / "source.png"), str(files / "source.png")], "overwrite the input"),
        (["apply", mp, str(files / "source.png"), str(files / "o.xyz")], "unknown or unwritable"),
        (["export-cube", mp, str(files / "o.cube"), "--size", "1"], "[2, 256]"),
        (["apply", mp, str(files / "cut.ppm"), str(files / "o.png")], "truncated PNM"),
        (["apply", mp, str(files / "source.png"), str(files / "o.png"), "--max-megapixels", "0.0001"],
         "convert the image to binary PPM"),
        (["fit", str(files / "missing.png"), str(files / "palette.png"), "--out", str(files / "m.pt")], "not found"),
    ]
    for argv, message in cases:
        assert main(argv + (["--quiet"] if argv[0] == "apply" else [])) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, (argv, err)
    assert not (files / "o.png").exists()
    # the real entry point: exit status 2 and the message on stderr
    proc = subprocess.run([sys.executable, "-m", "src.color_transfer", "apply", str(files / "notes.png"),
                           str(files / "source.png"), str(files / "o.png")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "not a colour-transfer map file" in proc.stderr


def test_cli_never_overwrites_its_inputs(files, capsys, tmp_path):
    """The same path, a symbolic link and a hard link to an input are refused (before any work);
    a missing output folder is reported before the fit."""
    import os
    import shutil

    src = tmp_path / "photo.png"
    shutil.copy(files / "source.png", src)
    original = src.read_bytes()
    os.link(src, tmp_path / "hard.png")
    os.symlink(src, tmp_path / "soft.png")
    mp = str(files / "map.pt")
    for out in ("photo.png", "hard.png", "soft.png"):
        assert main(["apply", mp, str(src), str(tmp_path / out), "--quiet"]) == 2
        assert "overwrite the input" in capsys.readouterr().err
        assert main(["fit", str(src), str(files / "palette.png"), "--out", str(tmp_path / out),
                     "--iterations", "2", "--profile", "smoke", "--quiet"]) == 2
        assert "overwrite the input" in capsys.readouterr().err
    os.link(files / "map.pt", tmp_path / "map_link.png")
    assert main(["apply", mp, str(src), str(tmp_path / "map_link.png"), "--quiet"]) == 2
    assert src.read_bytes() == original and (files / "map.pt").stat().st_size > 0
    ColorMap.load(files / "map.pt")
    assert main(["fit", str(src), str(files / "palette.png"), "--out", str(tmp_path / "nowhere" / "m.pt"),
                 "--profile", "smoke", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "output folder does not exist" in err and "fit:" not in capsys.readouterr().out


def test_failed_apply_keeps_an_existing_output(files, cmap, monkeypatch):
    """Outputs are written to a temporary file and renamed: a failure midway leaves the previous
    output as it was, and no temporary file behind."""
    import src.color_transfer as ct

    out = files / "kept.png"
    for ext in (".png", ".ppm", ".jpg"):
        out = files / f"kept{ext}"
        assert main(["apply", str(files / "map.pt"), str(files / "source.png"), str(out), "--quiet"]) == 0
        before = out.read_bytes()

        def boom(*a, **k):
            raise ValueError("simulated failure")

        monkeypatch.setattr(ct.ColorTable, "map", boom)
        with pytest.raises(ValueError, match="simulated"):
            apply_file(cmap, files / "source.png", out, method="distinct", progress=False)
        monkeypatch.undo()
        assert out.read_bytes() == before
    assert not list(files.glob(".*.tmp"))


def test_presets_and_schedule_options_reach_the_fit(files):
    from src.color_transfer import evaluate_color_map
    from src.experiments.color_transfer import ColorTransferConfig, fit_color_map

    paper = ColorTransferConfig.paper()  # the paper's recipe: λ = 1, constant lr
    assert (paper.lambda_cycle, paper.lr_schedule, paper.warmup) == (1.0, "constant", 0)
    assert ColorTransferConfig.cpu().lr_schedule == "cosine"
    src, pal = (np.asarray(Image.open(files / f)) for f in ("source.png", "palette.png"))
    cfg = ColorTransferConfig.smoke().replace(iterations=6, lr_schedule="cosine", warmup=2, lr_end=1e-5,
                                              pretrain_iterations=5)
    cmap = fit_color_map(src, pal, cfg, progress=False)
    w = cmap.metadata["w2gn_config"]
    assert (w["lr_schedule"], w["warmup"], w["lr_end"], w["iterations"]) == ("cosine", 2, 1e-5, 6)
    ev = evaluate_color_map(cmap, src, pal, n=10_000, n_projections=16)  # all pixels, in order
    n = ev["n_pixels"]
    assert n == min(src.shape[0] * src.shape[1], pal.shape[0] * pal.shape[1])
    X = torch.from_numpy(src.reshape(-1, 3)[:n].copy()).float() / 255
    fwd = cmap.map_float(X)
    for key, f in (("cycle_error", fwd), ("cycle_error_clipped", fwd.clamp(0, 1))):
        expected = float((cmap.map_float(f, inverse=True) - X).pow(2).mean().sqrt())
        assert abs(ev[key] - expected) <= 1e-6 + 1e-4 * expected, key


# ------------------------------------------------------------------ no silent wrong answers
def _refused(capsys, argv, *needles):
    """``main(argv)`` exits 2 with one ``error: …`` message naming every needle, no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert err.startswith("error: ") and "Traceback" not in err, (argv, err)
    for needle in needles:
        assert needle in err, (argv, needle, err)
    return err


def test_fit_resolves_bare_names_before_the_output_check(files, capsys, tmp_path, monkeypatch):
    """`fit china flower --out data/color_transfer/flower` from the repository root: the palette
    named by its bare name is the file in data/color_transfer/, so that output is refused."""
    import shutil

    data = tmp_path / "data"
    (data / "color_transfer").mkdir(parents=True)
    shutil.copy(files / "source.png", data / "color_transfer" / "china.png")
    shutil.copy(files / "palette.png", data / "color_transfer" / "flower.png")
    before = {p.name: p.read_bytes() for p in (data / "color_transfer").iterdir()}
    monkeypatch.setenv("W2GN_DATA", str(data))
    monkeypatch.chdir(tmp_path)
    for out in ("data/color_transfer/flower.png", "data/color_transfer/china.png"):
        _refused(capsys, ["fit", "china.png", "flower.png", "--out", out, "--iterations", "2", "--profile", "smoke",
                          "--quiet"], "--out", "overwrite the input")
    assert {p.name: p.read_bytes() for p in (data / "color_transfer").iterdir()} == before


def test_map_file_checksum_refuses_damaged_files(files, capsys, tmp_path):
    """NaN bytes written into a map file (the zip stays readable) are refused at load, not an
    all-black image; a file without checksum but with NaN weights is refused too."""
    good = ColorMap.load(files / "map.pt")
    raw = (files / "map.pt").read_bytes()
    w = good.D.state_dict()["quadratic_layers.0.0.weight"].numpy().tobytes()
    at = raw.find(w)
    assert at > 0
    bad = tmp_path / "nan.pt"
    bad.write_bytes(raw[:at] + np.full(len(w) // 4, np.nan, dtype=np.float32).tobytes() + raw[at + len(w):])
    with pytest.raises(MapFileError, match="does not match its checksum"):
        ColorMap.load(bad)
    out = tmp_path / "out.png"
    _refused(capsys, ["apply", str(bad), str(files / "source.png"), str(out), "--quiet"], "damaged", "refit")
    assert not out.exists()
    state = torch.load(files / "map.pt", weights_only=True)
    assert isinstance(state.pop("checksum"), str)
    state["D"]["final_layer.weight"] = torch.full_like(state["D"]["final_layer.weight"], float("nan"))
    torch.save(state, tmp_path / "old_nan.pt")
    with pytest.raises(MapFileError, match="NaN"):
        ColorMap.load(tmp_path / "old_nan.pt")


def test_cube_checksum(files, cmap, tmp_path):
    from src.color_transfer import export_cube

    out = tmp_path / "g.cube"
    export_cube(cmap, out, 5)
    assert read_cube(out)[0].shape == (5, 5, 5, 3)
    lines = out.read_text().splitlines()
    assert any(ln.startswith("# sha256 ") for ln in lines)
    i = next(k for k, ln in enumerate(lines) if ln[:1].isdigit())
    lines[i] = "0.500000 0.500000 0.500000" if lines[i] != "0.500000 0.500000 0.500000" else "0.1 0.1 0.1"
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="checksum"):
        read_cube(out)
    foreign = tmp_path / "foreign.cube"   # other programs' files carry no checksum: read as they are
    foreign.write_text("LUT_3D_SIZE 2\n" + "0 0 0\n" * 8)
    assert read_cube(foreign)[0].shape == (2, 2, 2, 3)


def test_cli_refuses_bad_options_by_name(files, capsys, tmp_path, monkeypatch):
    mp, src, out = str(files / "map.pt"), str(files / "source.png"), str(tmp_path / "o.png")
    apply = ["apply", mp, src, out, "--quiet"]
    _refused(capsys, apply + ["--lut-size", "0"], "--lut-size", "[2, 256]")
    _refused(capsys, apply + ["--block-rows", "0"], "--block-rows", "≥ 1")
    _refused(capsys, apply + ["--block-rows", "-3"], "--block-rows")
    _refused(capsys, apply + ["--png-level", "12"], "--png-level", "[0, 9]")
    _refused(capsys, apply + ["--max-megapixels", "nan"], "--max-megapixels")
    _refused(capsys, ["export-cube", mp, str(tmp_path / "o.cube"), "--size", "300"], "--size", "[2, 256]")
    _refused(capsys, ["fit", src, str(files / "palette.png"), "--out", str(tmp_path / "m.pt"), "--iterations", "0",
                      "--profile", "smoke", "--quiet"], "--iterations")
    _refused(capsys, apply + ["--device", "nonsense"], "--device nonsense", "not a torch device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _refused(capsys, apply + ["--device", "cuda"], "--device cuda", "CUDA is not available", "--device cpu")
    _refused(capsys, ["fit", src, str(files / "palette.png"), "--out", str(tmp_path / "m.pt"), "--device", "cuda",
                      "--profile", "smoke", "--quiet"], "--device cuda", "CUDA is not available")
    monkeypatch.setenv("W2GN_DEVICE", "cuda")
    _refused(capsys, apply, "W2GN_DEVICE=cuda", "CUDA is not available")
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "m.pt").exists()
    # the library refuses the same values instead of falling back to a default
    for kw, name in (({"lut_size": 0}, "lut_size"), ({"block_rows": 0}, "block_rows"), ({"png_level": 10}, "png_level")):
        with pytest.raises(ValueError, match=name):
            apply_file(cmap_of(files), src, out, progress=False, **kw)
    with pytest.raises(ValueError, match="LUT size"):
        cmap_of(files).table(lut_size=0)


def cmap_of(files):
    return ColorMap.load(files / "map.pt")


def test_cli_no_cuda_in_a_real_process(files, tmp_path):
    """The entry point itself: `--device cuda` on a process without a GPU is one line, status 2."""
    import os

    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", W2GN_DEBUG="")
    proc = subprocess.run([sys.executable, "-m", "src.color_transfer", "apply", str(files / "map.pt"),
                           str(files / "source.png"), str(tmp_path / "o.png"), "--device", "cuda", "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: --device cuda: CUDA is not available") and "Traceback" not in proc.stderr


def test_cli_disk_full_keeps_the_previous_output(files, capsys, tmp_path, monkeypatch):
    """A write failing with ENOSPC: status 2, the message says so and that the previous file is
    intact (checked), and the previous bytes are still there; a new output leaves no file."""
    import errno
    import os

    from src import utils

    mp, photo = str(files / "map.pt"), str(files / "source.png")
    jobs = {"apply": (tmp_path / "o.png", lambda o: ["apply", mp, photo, str(o), "--quiet"]),
            "export-cube": (tmp_path / "o.cube", lambda o: ["export-cube", mp, str(o), "--size", "5"])}
    for name, (out, argv) in jobs.items():
        assert main(argv(out)) == 0
        before = out.read_bytes()
        capsys.readouterr()

        def full(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(utils.os, "fsync", full)
        _refused(capsys, argv(out), "no space left", "the previous file is intact")
        _refused(capsys, argv(tmp_path / f"new_{out.name}"), "no space left", "no file was written")
        monkeypatch.undo()
        assert out.read_bytes() == before, name
        assert not (tmp_path / f"new_{out.name}").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_unwritable_folder_and_permission_errors(files, capsys, tmp_path, monkeypatch):
    import errno
    import tempfile

    from src import image_io

    mp, src, out = str(files / "map.pt"), str(files / "source.png"), str(tmp_path / "o.png")
    monkeypatch.setattr(image_io.os, "access", lambda *a, **k: False)
    _refused(capsys, ["apply", mp, src, out, "--quiet"], "OUTPUT", "cannot write into the output folder")
    _refused(capsys, ["export-cube", mp, str(tmp_path / "o.cube")], "OUT", "cannot write")
    monkeypatch.undo()

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    _refused(capsys, ["apply", mp, src, out, "--quiet"], "permission denied", "no file was written")


def test_cli_out_of_memory(files, capsys, tmp_path, monkeypatch):
    from src.color_transfer import cli

    mp, src, out = str(files / "map.pt"), str(files / "source.png"), str(tmp_path / "o.png")
    for err in (MemoryError(), RuntimeError("[enforce fail at alloc_cpu.cpp:114] . DefaultCPUAllocator: can't "
                                            "allocate memory: you tried to allocate 68719476736 bytes")):
        def oom(*a, _err=err, **k):
            raise _err

        monkeypatch.setattr(cli, "apply_file", oom)
        _refused(capsys, ["apply", mp, src, out, "--quiet"], "out of memory", "--block-rows")
    assert not (tmp_path / "o.png").exists()


def test_checkpoint_names_hold_the_seed_and_settings(files, tmp_path):
    """The CLI/notebook fit: seed 1 never reuses seed 0's pretraining (nor its fit) checkpoint."""
    from src.experiments.color_transfer import ColorTransferConfig, checkpoint_names, fit_color_map

    X, Y = torch.rand(50, 3), torch.rand(40, 3)
    base = ColorTransferConfig.smoke()
    names = checkpoint_names(base, X, Y)
    assert "seed0" in names["pretrain"] and "seed0" in names["fit"]
    for change in ({"seed": 1}, {"hidden_layer_sizes": (16, 8)}, {"init_scale": 0.2}, {"pretrain_iterations": 7},
                   {"activation": "softplus"}, {"dropout": 0.1}):
        other = checkpoint_names(base.replace(**change), X, Y)
        assert other["pretrain"] != names["pretrain"] and other["fit"] != names["fit"], change
    for change in ({"lr": 1e-2}, {"iterations": 7}, {"lambda_cycle": 2.0}):
        other = checkpoint_names(base.replace(**change), X, Y)
        assert other["pretrain"] == names["pretrain"] and other["fit"] != names["fit"], change
    assert checkpoint_names(base, X, Y + 1e-3)["fit"] != names["fit"]
    assert checkpoint_names(base.replace(eval_points=7, hidden_layer_sizes=[16, 16]), X, Y) == names
    # the files of a real run: one pretraining and one fit checkpoint per seed
    src, pal = (np.asarray(Image.open(files / f)) for f in ("source.png", "palette.png"))
    for seed in (0, 1):
        cfg = base.replace(seed=seed, iterations=2, pretrain_iterations=3, checkpoint_dir=str(tmp_path))
        fit_color_map(src, pal, cfg, progress=False)
    made = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert len(made) == 4 and sum("pretrain_seed1" in n for n in made) == 1, made
