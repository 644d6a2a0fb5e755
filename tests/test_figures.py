"""pics/ and poster/ are what scripts/make_figures.py makes from the committed results, README
shows them, and the poster prints the numbers of results/*.json."""
import json
import re
import shutil
import xml.etree.ElementTree as ET
from importlib.metadata import version

import pytest
from conftest import ROOT, load_script


@pytest.fixture(scope="module")
def mod():
    return load_script("scripts/make_figures.py")


def _results(name):
    return json.loads((ROOT / "results" / f"{name}.json").read_text())


def _pinned(package):
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.lower().startswith(package.lower() + "=="):
            return line.split("==")[1].strip()
    raise AssertionError(f"requirements.txt does not pin {package}")


def test_readme_references_the_figures(mod):
    readme = (ROOT / "README.md").read_text()
    refs = set(re.findall(r"\((?:\./)?((?:pics|poster)/[\w./-]+)\)", readme))
    refs |= set(re.findall(r"src=\"(?:\./)?((?:pics|poster)/[\w./-]+)\"", readme))
    assert refs, "README.md shows no figure"
    for ref in sorted(refs):
        assert (ROOT / ref).is_file(), f"README.md references {ref}, which does not exist"
    expected = {f"pics/{n}" for n in mod.PICS} | {f"poster/{n}" for n in mod.POSTER}
    assert expected <= refs, f"README.md does not show {sorted(expected - refs)}"


def test_regenerated_figures_equal_committed(mod, tmp_path, monkeypatch):
    monkeypatch.delenv("W2GN_RESULTS_DIR", raising=False)
    for package in ("matplotlib", "pillow"):
        if version(package) != _pinned(package):
            pytest.skip(f"{package} {version(package)} is not the pinned {_pinned(package)}: "
                        "the rendered bytes differ between versions")
    written = mod.make_all(tmp_path)
    made = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    committed = sorted(p.relative_to(ROOT).as_posix() for d in ("pics", "poster") for p in (ROOT / d).iterdir()
                       if p.is_file())
    assert made == committed, "pics/ and poster/ hold other files than make_figures.py writes"
    for rel in made:
        same = (tmp_path / rel).read_bytes() == (ROOT / rel).read_bytes()   # a bool: no byte-string diff on failure
        assert same, f"{rel} is not what `make figures` makes from the committed results (run it and commit)"
    for rel in made:
        if rel.startswith("pics/"):
            assert (ROOT / rel).stat().st_size <= 320_000, f"{rel} is too large for a README figure"


def _svg_texts():
    root = ET.parse(ROOT / "poster" / "W2GN_poster.svg").getroot()
    return {"".join(el.itertext()).strip() for el in root.iter("{http://www.w3.org/2000/svg}text")}


def _uvp(x):
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def test_poster_prints_the_results_numbers():
    texts = _svg_texts()
    expected = []
    b = _results("gaussians_baselines")["metrics"]
    paper = b["paper_l2_uvp"]
    for method, vals in b["l2_uvp"].items():
        for d, v in vals.items():
            expected += [f"{v:.2f}", f"({paper[method][paper['dims'].index(int(d))]})"]
    g = _results("gaussians")
    for d in g["metrics"]["l2_uvp"]:
        expected += [_uvp(g["metrics"]["l2_uvp"][d]), _uvp(g["metrics"]["l2_uvp_inverse"][d]),
                     str(g["paper_w2gn_l2_uvp"][d])]
    bm = _results("benchmark")
    for d, v in bm["metrics"]["l2_uvp_fwd"].items():
        expected += [_uvp(v), f"{bm['metrics']['linear_l2_uvp'][d]:.1f}"]
        if d in bm["published"]["w2gn_l2_uvp_fwd"]:
            expected.append(f"{bm['published']['w2gn_l2_uvp_fwd'][d]:.1f}")
    lm = _results("latent_ot")["metrics"]
    for k in ("reconstruct", "raw_decode", "w2gn"):
        expected += [f"{lm['fid_' + k]:.1f}", f"{lm['paper_fid'][k]:.2f}"]
    da = _results("domain_adaptation")
    for k in ("knn_no_adaptation", "knn_emd", "knn_w2gn_train", "knn_w2gn_test"):
        expected += [f"{da['metrics'][k]:.3f}", f"{da['paper'][k]:.3f}"]
    missing = sorted({e for e in expected if e not in texts})
    assert not missing, f"the poster does not print these results numbers: {missing}"
    joined = "\n".join(texts)
    for cmd in ("make notebooks", "make test"):
        assert cmd in joined, f"the poster does not show `{cmd}`"
    for name in ("toy", "gaussians", "gaussians_baselines", "benchmark", "latent_ot", "domain_adaptation",
                 "color_transfer", "style_transfer"):
        assert f"results/{name}.json" in joined, f"the poster does not name results/{name}.json as a source"


def test_missing_inputs_are_named(mod, tmp_path, monkeypatch):
    monkeypatch.delenv("W2GN_RESULTS_DIR", raising=False)
    shutil.copytree(ROOT / "results", tmp_path / "results")
    (tmp_path / "notebooks").mkdir()
    inp = mod.Inputs(tmp_path)
    (tmp_path / "results" / "toy.json").unlink()
    with pytest.raises(mod.InputError, match=r"results/toy\.json"):
        inp.get("toy", "metrics")
    with pytest.raises(mod.InputError, match=r"latent_ot\.json lacks the key metrics\.nope"):
        inp.get("latent_ot", "metrics", "nope")
    with pytest.raises(mod.InputError, match=r"notebooks/W2GN_color_transfer\.ipynb"):
        inp.notebook_images("color_images")
    profile = mod.Inputs(tmp_path).get("color_transfer", "profile")
    printed = {"output_type": "stream", "name": "stdout", "text": f"experiment: color_transfer\nprofile:    {profile}\n"}
    nb = {"cells": [{"cell_type": "code", "source": "plot_rgb_clouds(x)", "outputs": [printed]}]}
    path = tmp_path / "notebooks" / "W2GN_color_transfer.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(mod.InputError, match="has no image output"):
        mod.Inputs(tmp_path).notebook_images("color_clouds")
    with pytest.raises(mod.InputError, match="expected one code cell containing"):
        mod.Inputs(tmp_path).notebook_images("color_images")
    printed["text"] = "profile:    smoke\n"
    path.write_text(json.dumps(nb))
    with pytest.raises(mod.InputError, match="shows profile 'smoke' but results/color_transfer.json"):
        mod.Inputs(tmp_path).notebook_images("color_clouds")


def test_paper_cells(mod):
    assert mod.paper_value("<1") == (1.0, "v")
    assert mod.paper_value(">50") == (50.0, "^")
    assert mod.paper_value("1.3") == (1.3, "o")
