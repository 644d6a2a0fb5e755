"""README.md and the docs carry the tables generated from results/*.json, and their links resolve."""
import json
import re

import pytest
from conftest import ROOT, load_script

#: the front door and the documents whose tables scripts/readme_tables.py generates
DOCS = ("README.md", "docs/results.md", "docs/tuning.md", "docs/experiments.md", "benchmarks/README.md")


@pytest.fixture(scope="module")
def mod():
    return load_script("scripts/readme_tables.py")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_every_generated_block_is_current(mod):
    blocks = mod.tables()
    assert {"glance", "notebooks", "toy", "gaussians", "step_speed", "benchmark", "gaussians_baselines",
            "latent_ot", "style_transfer", "domain_adaptation", "color_transfer", "color_transfer_speed",
            "time_to_accuracy", "time_to_accuracy_cpu", "latent_ot_steps"} <= set(blocks), \
        "the results files are committed"
    assert mod.stale() == [], "run python scripts/readme_tables.py --write"
    for name, block in blocks.items():
        text = (ROOT / mod.places()[name]).read_text(encoding="utf-8")
        assert block in text, f"{mod.places()[name]} lacks the current block {name}:\n{block}"


def test_readme_is_the_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert "make notebooks" in readme and "make test" in readme
    for gone in ("W2GNTrainer", "get_trainer"):
        assert gone not in readme
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 2 and len(blocks[0].strip().splitlines()) <= 12
    assert "make_pair" in blocks[0] and ".fit(X, Y)" in blocks[0] and "model.push(" in blocks[0] \
        and "model.w2(" in blocks[0]


def test_glance_table_has_one_row_per_experiment_linking_to_its_section(mod):
    table = mod.glance_table(ROOT)
    rows = [r for r in table.splitlines()[2:] if r.startswith("| [")]
    assert len(rows) == len(mod.GLANCE)
    sections = _anchors(ROOT / "docs" / "results.md")
    for (_, _, anchor, _, _), row in zip(mod.GLANCE, rows):
        assert f"(docs/results.md#{anchor})" in row and anchor in sections, row
        assert "`cpu`" in row  # the profile the numbers come from


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_and_anchors_resolve(doc):
    path = ROOT / doc
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        assert dest.exists(), f"{doc} links to {target}, which does not exist"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), f"{doc} links to {target}: no such heading"


def test_block_markers_are_replaced_in_place(mod):
    text = "intro\n<!-- generated: toy -->\n\nold\n\n<!-- /generated: toy -->\nrest\n"
    new = mod.put_block(text, "toy", "| a |\n|---|")
    assert new == "intro\n<!-- generated: toy -->\n\n| a |\n|---|\n\n<!-- /generated: toy -->\nrest\n"
    assert mod.block_of(new, "toy") == "| a |\n|---|" and mod.block_of(new, "gaussians") is None
    with pytest.raises(KeyError):
        mod.put_block("no markers", "toy", "x")


def test_check_fails_on_a_stale_block(mod, tmp_path):
    (tmp_path / "results").mkdir()
    record = json.loads((ROOT / "results" / "domain_adaptation.json").read_text())
    (tmp_path / "results" / "domain_adaptation.json").write_text(json.dumps(record))
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "results.md"
    doc.write_text("<!-- generated: domain_adaptation -->\n\nold\n\n<!-- /generated: domain_adaptation -->\n")
    assert "docs/results.md: domain_adaptation" in mod.stale(tmp_path)
    doc.write_text(mod.put_block(doc.read_text(), "domain_adaptation", mod.domain_table(record)))
    assert "docs/results.md: domain_adaptation" not in mod.stale(tmp_path)


def test_toy_table_format(mod):
    metrics = {"100g": {"iterations": 10, "lambda_cycle": 3.0, "energy_forward": -0.00031, "energy_inverse": 0.0002,
                        "modes_covered": 100, "n_modes": 100, "mass_in_modes": 0.651, "weakest_share": 0.3,
                        "seeds": [{"seed": 4, "modes_covered": 98, "weakest_share": 0.0, "mass_in_modes": 0.5}]},
               "swiss": {"iterations": 10, "energy_forward": 0.001, "energy_inverse": 0.002}}
    table = mod.toy_table({"metrics": metrics})
    assert "| 100 Gaussians | 10 | 3 | −0.0003 | 0.0002 | 100/100 | 0.30 | 0.65 |" in table
    assert "| Swiss roll | 10 | 1 | 0.0010 | 0.0020 | – | – | – |" in table
    assert "| 100 Gaussians | 4 | 98/100 | 0.00 | 0.50 |" in table
    claim = mod.toy_claim({"metrics": metrics})
    assert "**not reproduced**" in claim and "0 of 1 seeds cover all 100 modes" in claim


def test_verdicts_follow_the_numbers(mod):
    bench = {"metrics": {"l2_uvp_fwd": {"2": 0.09, "64": 7.8}, "linear_l2_uvp": {"2": 13.8, "64": 63.3}},
             "published": {"w2gn_l2_uvp_fwd": {"2": 0.1, "64": 7.2}, "linear_l2_uvp_fwd": {"2": 14.1}}}
    text = mod.benchmark_verdict(bench)
    assert "meet the published W2GN row at D = 2, not at D = 64 (7.80 vs 7.2)" in text and "13.8 vs 14.1" in text
    gauss = {"metrics": {"l2_uvp": {"2": 0.3, "512": 1.4}}, "paper_w2gn_l2_uvp": {"2": "<1", "512": "1.3"}}
    assert mod.gaussians_verdict(gauss).endswith("at 1 of the 2 dimensions run; above it at D = 512 (1.40 vs 1.3).")
    style = {"metrics": {"fid_before": 300.0, "fid_after": 250.0, "sliced_w2_pixels_forward_before": 0.2,
                         "sliced_w2_pixels_forward_after": 0.3}}
    assert "away from B (sliced W2 up) and FID gets better" in mod.style_verdict(style)
    lut = {"metrics": {"lut_check": {"forward": {"usable": True, "size": 65, "max_error_255": 0.3},
                                     "inverse": {"usable": False, "size": None, "max_error_255": 8.26}}}}
    assert mod.color_lut_line(lut).startswith("A trilinear LUT met the check for forward (65³)")


def test_other_tables_format(mod):
    res = {"metrics": {"l2_uvp": {"LSOT": {"2": 0.3234, "64": 59.49}, "W2GN": {"2": 0.014, "64": 0.284}},
                       "identity_l2_uvp": {"2": 0.1, "64": 26.808},
                       "wall_time_s": {"LSOT": {"2": 2.2, "64": 22.39}, "W2GN": {"2": 5.0, "64": 8.14}},
                       "paper_l2_uvp": {"dims": [2, 4, 64], "LSOT": ["<1", "3.7", "34.7"], "W2GN": ["<1", "<1", "<1"]}}}
    table = mod.baselines_table(res)
    assert "| LSOT | 0.32 (<1) | 59.49 (34.7) |" in table and "| identity map | 0.10 | 26.8 |" in table
    assert "Time at D = 64 (1 thread): LSOT 22 s, W2GN 8 s." in table
    assert mod.baselines_verdict(res) == "Lowest L2-UVP: W2GN at 2 of the 2 dimensions."
    da = mod.domain_table({"metrics": {"knn_no_adaptation": 0.52754, "knn_emd": 0.6, "knn_w2gn_train": 0.68,
                                       "knn_w2gn_test": 0.6677}, "paper": {"knn_no_adaptation": 0.734}})
    assert "| no adaptation | 0.528 | 0.734 |" in da and "| W2GN, test | 0.668 | – |" in da
    nb = mod.notebooks_table(ROOT)
    assert nb.count("\n") == len(mod.NOTEBOOKS) + 2 and "| `W2GN_toy_experiments` |" in nb  # + header rule, total
    assert nb.splitlines()[-1].startswith("| all | | | ")


def test_notebook_and_time_to_accuracy_tables_show_cpu_time_and_estimates(mod, tmp_path):
    (tmp_path / "results").mkdir()
    for i, (_, res, _, _) in enumerate(mod.NOTEBOOKS):
        record = {"wall_time_s": 60.0} if i else {"wall_time_s": 120.0, "cpu_time_s": 90.0, "torch_threads": 1}
        (tmp_path / "results" / f"{res}.json").write_text(json.dumps(record))
    nb = mod.notebooks_table(tmp_path)
    assert "| 120 s | 90 s (1) |" in nb and "| 60 s | not recorded |" in nb
    assert nb.splitlines()[-1] == f"| all | | | {(120 + 60 * (len(mod.NOTEBOOKS) - 1)) / 60:.0f} min | 2 min (1 of {len(mod.NOTEBOOKS)}) |"
    reached = {"reached": True, "seconds": 118.2, "steps": 4550}
    missed = {"reached": False, "extrapolation": {"seconds": 816.0}, "same_trajectory_estimate": {"seconds": 1204.0}}
    run = {"ms_per_step": 23.8, "to": {"10": reached, "5": missed}, "final": {"l2_uvp_fwd": 6.74}}
    table = mod.time_to_accuracy_table({"settings": {"thresholds_l2_uvp_fwd": [10.0, 5.0], "cap_s": 360.0},
                                        "runs": {"16": {"ours": run, "ref": run}}})
    assert "| 16 | ours | 23.8 | 118 s (4550 steps) | not reached (estimate ~20 min) | 6.7 % |" in table
    assert "| 16 | reference pattern |" in table and "after the cap (360 s)" in table


def test_time_to_accuracy_table_of_the_cpu_recipe(mod):
    reached = {"reached": True, "seconds": 41.6, "steps": 3050}
    in_recipe = {"reached": False, "run_ended_by": "end of the recipe's 8000 steps", "extrapolation": {"seconds": 250.0}}
    capped = {"reached": False, "run_ended_by": "cap of 600 s", "extrapolation": None,
              "same_trajectory_estimate": {"seconds": 900.0}}
    ours = {"ms_per_step": 7.94, "steps": 8000, "recipe_steps": 8000, "to": {"10": reached, "5": in_recipe},
            "final": {"l2_uvp_fwd": 5.62}}
    ref = {"ms_per_step": 11.2, "steps": 6100, "recipe_steps": 8000, "to": {"10": reached, "5": capped},
           "final": {"l2_uvp_fwd": 6.01}}
    table = mod.time_to_accuracy_table({"settings": {"recipe": "cpu", "thresholds_l2_uvp_fwd": [10.0, 5.0],
                                                     "cap_s": 600.0}, "runs": {"16": {"ours": ours, "ref": ref}}})
    lines = table.splitlines()
    assert lines[0] == ("| D | implementation | ms / step | to 10 % | to 5 % | steps run (of the recipe's) "
                        "| L2-UVP at the end (cap 600 s) |") and lines[1] == "|---|---|---|---|---|---|---|"
    assert lines[2] == ("| 16 | ours | 7.9 | 42 s (3050 steps) | not reached in the recipe's steps (estimate ~250 s) "
                        "| 8000 (8000) | 5.6 % |")
    assert lines[3] == ("| 16 | reference pattern | 11.2 | 42 s (3050 steps) | not reached within the cap "
                        "(estimate ~15 min) | 6100 (8000) | 6.0 % |")


def _python_blocks(text: str) -> list[str]:
    import re

    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_examples_run_as_shown(tmp_path):
    """Every ```python block of README.md runs unchanged, in a fresh process in an empty folder."""
    import os
    import subprocess
    import sys

    blocks = _python_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 2, "README lost its library examples"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    for i, code in enumerate(blocks):
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=240)
        assert proc.returncode == 0, f"README example {i + 1} failed:\n{code}\n{proc.stderr[-2000:]}"
    assert (tmp_path / "toy_run.pt").exists() and (tmp_path / "toy_model.pt").exists()
