"""The README's result tables are the ones generated from results/*.json."""
from conftest import ROOT, load_script


def _module():
    return load_script("scripts/readme_tables.py")


def test_readme_tables_match_results_files():
    mod = _module()
    tables = mod.tables()
    assert set(tables) == {"notebooks", "toy", "gaussians", "step_speed", "benchmark", "gaussians_baselines",
                           "latent_ot", "style_transfer", "domain_adaptation", "color_transfer",
                           "color_transfer_speed"}, \
        "the results files are committed"
    readme = (ROOT / "README.md").read_text()
    for name, table in tables.items():
        assert table in readme, f"README.md table for results/{name}.json is out of date:\n{table}"


def test_toy_table_format():
    mod = _module()
    metrics = {"100g": {"iterations": 10, "lambda_cycle": 3.0, "energy_forward": -0.00031, "energy_inverse": 0.0002,
                        "modes_covered": 100, "n_modes": 100, "mass_in_modes": 0.651},
               "swiss": {"iterations": 10, "energy_forward": 0.001, "energy_inverse": 0.002}}
    table = mod.toy_table({"metrics": metrics})
    assert "| 100 Gaussians | 10 | 3 | −0.0003 | 0.0002 | 100/100 | 0.65 |" in table
    assert "| Swiss roll | 10 | 1 | 0.0010 | 0.0020 | – | – |" in table


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
    assert nb.count("\n") == len(mod.NOTEBOOKS) + 1 and "| `W2GN_toy_experiments` |" in nb
