"""The README's result tables are the ones generated from results/*.json."""
from conftest import ROOT, load_script


def _module():
    return load_script("scripts/readme_tables.py")


def test_readme_tables_match_results_files():
    mod = _module()
    tables = mod.tables()
    assert set(tables) == {"toy", "gaussians", "step_speed"}, "the results files are committed"
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
