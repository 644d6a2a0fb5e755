"""pics/ and poster/ are what scripts/make_figures.py (the package scripts/figures/) makes from the
committed results, README shows them, the poster prints the numbers of results/*.json, and only
full runs (cpu, paper) are drawn into the repository — other profiles into a scratch folder only."""
import json
import re
import shutil
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import ROOT

from scripts import figures


@pytest.fixture(scope="module")
def mod():
    return figures


def _results(name):
    return json.loads((ROOT / "results" / f"{name}.json").read_text())


def _pinned(package):
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.lower().startswith(package.lower() + "=="):
            return line.split("==")[1].strip()
    raise AssertionError(f"requirements.txt does not pin {package}")


def test_the_documents_show_every_figure(mod):
    """README.md and docs/*.md show every figure and the poster, and each image they reference exists."""
    shown = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        refs = set(re.findall(r"\]\(((?:\.\./|\./)?(?:pics|poster)/[\w./-]+)\)", text))
        refs |= set(re.findall(r"src=\"((?:\.\./|\./)?(?:pics|poster)/[\w./-]+)\"", text))
        for ref in sorted(refs):
            path = (doc.parent / ref).resolve()
            assert path.is_file(), f"{doc.relative_to(ROOT)} references {ref}, which does not exist"
            shown.add(path.relative_to(ROOT).as_posix())
    expected = {f"pics/{n}" for n in mod.PICS} | {f"poster/{n}" for n in mod.POSTER}
    assert expected <= shown, f"no document shows {sorted(expected - shown)}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pics/w2gn_mapping.png" in readme, "README.md opens with the mapping figure"


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
    profile = _results("gaussians_baselines")["profile"]   # ours labelled by profile, not "(paper)"
    assert f"Gaussians: L2-UVP %, ours ({profile} profile)" in texts
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


def test_steps_are_listed_in_the_order_of_the_dimension(mod):
    from scripts.figures.inputs import steps_by_dim

    assert steps_by_dim({"16": 8000, "2": 12000, "8": 5000, "4": 16000}) == ("12000/16000/5000/8000", "2/4/8/16")
    assert steps_by_dim({"4": 300, "2": 300}) == ("300", "2/4")


def _smoke_results(folder: Path) -> Path:
    """The committed results copied to ``folder``, results/gaussians.json set to profile smoke (a
    file no notebook image is checked against)."""
    shutil.copytree(ROOT / "results", folder)
    path = folder / "gaussians.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "profile": "smoke"}))
    return folder


def test_plan_draws_into_the_repository_only_from_its_own_results(mod, tmp_path, monkeypatch):
    root = tmp_path / "repo"
    monkeypatch.delenv("W2GN_RESULTS_DIR", raising=False)
    assert mod.plan(None, root) == (root, root / "results", True)
    assert mod.plan(tmp_path / "out", root) == (tmp_path / "out", root / "results", False)
    monkeypatch.setenv("W2GN_RESULTS_DIR", str(tmp_path / "scratch"))      # a scratch run's results
    assert mod.plan(None, root) == (tmp_path / "scratch", tmp_path / "scratch", False)
    assert mod.plan(root, root)[2] is True                                  # asked for the repository: checked
    monkeypatch.setenv("W2GN_RESULTS_DIR", str(root / "results"))
    assert mod.plan(None, root) == (root, root / "results", True)


def test_smoke_results_are_refused_for_the_repository(mod, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("W2GN_RESULTS_DIR", raising=False)
    root = tmp_path / "repo"
    _smoke_results(root / "results")
    with pytest.raises(mod.InputError, match=r"results/gaussians\.json \(.*\) is from profile 'smoke'.*--out DIR"):
        mod.make_all(root=root, notebooks_dir=ROOT / "notebooks")
    assert not (root / "pics").exists() and not (root / "poster").exists()   # refused before drawing
    monkeypatch.setattr(mod, "ROOT", root)                                   # the command line, on that repository
    assert mod.main([]) == 1
    assert "results/gaussians.json" in capsys.readouterr().err
    assert not (root / "pics").exists()


def test_smoke_results_are_drawn_into_a_scratch_folder(mod, tmp_path, monkeypatch):
    root, scratch = tmp_path / "repo", tmp_path / "scratch"
    _smoke_results(scratch)
    monkeypatch.setenv("W2GN_RESULTS_DIR", str(scratch))   # where a smoke run leaves its results
    written = mod.make_all(root=root, notebooks_dir=ROOT / "notebooks")
    assert sorted(p.relative_to(scratch).as_posix() for p in written) == sorted(
        [f"pics/{n}" for n in mod.PICS] + [f"poster/{n}" for n in mod.POSTER])
    assert not root.exists()                               # nothing in the repository's pics/, poster/
    texts = {"".join(el.itertext()).strip()
             for el in ET.parse(scratch / "poster" / "W2GN_poster.svg").getroot().iter("{http://www.w3.org/2000/svg}text")}
    assert any(t.startswith("smoke profile") for t in texts)   # labelled with the profile it was drawn from
