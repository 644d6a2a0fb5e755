"""docs/experiments.md is the table scripts/experiments_table.py renders from the presets."""
from conftest import ROOT, load_script


def test_settings_doc_is_up_to_date():
    table = load_script("scripts/experiments_table.py")
    assert (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8") == table.render(), \
        "docs/experiments.md is out of date: run python scripts/experiments_table.py"


def test_settings_doc_shows_the_presets():
    from src.experiments.gaussians import GaussiansConfig

    table = load_script("scripts/experiments_table.py")
    text = table.render()
    paper, cpu = GaussiansConfig.paper(), GaussiansConfig.cpu()
    row = f"| `w2gn.iterations` | **{paper.w2gn.iterations}** | **{cpu.w2gn.iterations}** |"
    assert row in text
    assert f"| `w2gn.lr` | {paper.w2gn.lr:g} | {cpu.w2gn.lr:g} |" in text
    for _, _, name in table.EXPERIMENTS:
        assert f"## {name} — " in text
