"""The README's result tables are the ones generated from results/*.json."""
import json

from conftest import ROOT, load_script


def _module():
    return load_script("scripts/readme_tables.py")


def test_readme_tables_match_results_files():
    mod = _module()
    tables = mod.tables()
    assert set(tables) == {"notebooks", "toy", "gaussians", "step_speed", "benchmark", "gaussians_baselines",
                           "latent_ot", "style_transfer", "domain_adaptation", "color_transfer",
                           "color_transfer_speed", "time_to_accuracy", "time_to_accuracy_cpu"}, \
        "the results files are committed"
    readme = (ROOT / "README.md").read_text()
    for name, table in tables.items():
        assert table in readme, f"README.md table for results/{name}.json is out of date:\n{table}"


def test_toy_table_format():
    mod = _module()
    metrics = {"100g": {"iterations": 10, "lambda_cycle": 3.0, "energy_forward": -0.00031, "energy_inverse": 0.0002,
                        "modes_covered": 100, "n_modes": 100, "mass_in_modes": 0.651, "weakest_share": 0.3,
                        "seeds": [{"seed": 4, "modes_covered": 98, "weakest_share": 0.0, "mass_in_modes": 0.5}]},
               "swiss": {"iterations": 10, "energy_forward": 0.001, "energy_inverse": 0.002}}
    table = mod.toy_table({"metrics": metrics})
    assert "| 100 Gaussians | 10 | 3 | −0.0003 | 0.0002 | 100/100 | 0.30 | 0.65 |" in table
    assert "| Swiss roll | 10 | 1 | 0.0010 | 0.0020 | – | – | – |" in table
    assert "| 100 Gaussians | 4 | 98/100 | 0.00 | 0.50 |" in table


def test_other_tables_format():
    mod = _module()
    res = {"metrics": {"l2_uvp": {"LSOT": {"2": 0.3234, "64": 59.49}, "W2GN": {"2": 0.014, "64": 0.284}},
                       "identity_l2_uvp": {"2": 0.1, "64": 26.808},
                       "wall_time_s": {"LSOT": {"2": 2.2, "64": 22.39}, "W2GN": {"2": 5.0, "64": 8.14}},
                       "paper_l2_uvp": {"dims": [2, 4, 64], "LSOT": ["<1", "3.7", "34.7"], "W2GN": ["<1", "<1", "<1"]}}}
    table = mod.baselines_table(res)
    assert "| LSOT | 0.32 (<1) | 59.49 (34.7) |" in table and "| identity map | 0.10 | 26.8 |" in table
    assert "Time at D = 64 (1 thread): LSOT 22 s, W2GN 8 s." in table
    da = mod.domain_table({"metrics": {"knn_no_adaptation": 0.52754, "knn_emd": 0.6, "knn_w2gn_train": 0.68,
                                       "knn_w2gn_test": 0.6677}, "paper": {"knn_no_adaptation": 0.734}})
    assert "| no adaptation | 0.528 | 0.734 |" in da and "| W2GN, test | 0.668 | – |" in da
    nb = mod.notebooks_table(ROOT)
    assert nb.count("\n") == len(mod.NOTEBOOKS) + 2 and "| `W2GN_toy_experiments` |" in nb  # + header rule, total
    assert nb.splitlines()[-1].startswith("| all | | | ")


def test_notebook_and_time_to_accuracy_tables_show_cpu_time_and_estimates(tmp_path):
    mod = _module()
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


def test_time_to_accuracy_table_of_the_cpu_recipe():
    mod = _module()
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
