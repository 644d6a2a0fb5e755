"""docs/experiments.md is the table scripts/experiments_table.py renders from the presets."""
from conftest import ROOT, load_script


def test_settings_doc_is_up_to_date():
    table = load_script("scripts/experiments_table.py")
    assert (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8") == table.render(), \
        "docs/experiments.md is out of date: run python scripts/experiments_table.py"


def test_settings_doc_shows_the_presets():
    from src.experiments.gaussians import GaussiansConfig, gaussian_hidden_sizes
    from src.experiments.toy import ToyConfig

    table = load_script("scripts/experiments_table.py")
    text = table.render()
    paper, cpu = ToyConfig.paper(), ToyConfig.cpu()
    row = f"| `w2gn.iterations` | **{paper.w2gn.iterations}** | **{cpu.w2gn.iterations}** |"
    assert row in text
    assert f"| `w2gn.lr` | {paper.w2gn.lr:g} | {cpu.w2gn.lr:g} |" in text
    paper, cpu = GaussiansConfig.paper(), GaussiansConfig.cpu()   # per-D values below the table
    widths = table.show(gaussian_hidden_sizes(4096))
    assert f"| 4096 | {widths} / – | {min(4096, paper.lambda_max):g} / – | {paper.iterations_for(4096)} / – |" in text
    assert (f"| 2 | {table.show(gaussian_hidden_sizes(2))} / {table.show(gaussian_hidden_sizes(2))} | 2 / 2 | "
            f"**{paper.iterations_for(2)} / {cpu.iterations_for(2)}** |") in text
    for _, _, name in table.EXPERIMENTS:
        assert f"## {name} — " in text


def test_settings_doc_shows_the_benchmark_values_each_dimension_trains_with():
    from src.experiments.benchmark import BenchmarkConfig

    table = load_script("scripts/experiments_table.py")
    text = table.render()
    assert "| `w2gn.lambda_cycle` | per D, see below | per D, see below |" in text
    assert "| `icnn.hidden` | per D, see below | per D, see below |" in text
    paper, cpu = BenchmarkConfig.paper(), BenchmarkConfig.cpu()
    for dim in cpu.dims:
        p, c = paper.w2gn_for(dim), cpu.w2gn_for(dim)
        cells = [f"{table.show(table.benchmark_widths(dim))} / {table.show(table.benchmark_widths(dim))}"]
        for a, b in ((paper.icnn_for(dim).celu_alpha, cpu.icnn_for(dim).celu_alpha), (p.lambda_cycle, c.lambda_cycle),
                     (p.iterations, c.iterations), (p.batch_size, c.batch_size), (p.lr, c.lr),
                     (p.log_every, c.log_every)):
            x, y = table.show(a), table.show(b)
            cells.append(f"**{x} / {y}**" if x != y else f"{x} / {y}")
        assert f"| {dim} | " + " | ".join(cells) + " |" in text
    assert f"| 64 | (128, 128, 64) / (128, 128, 64) | 1 / 1 | **64 / {table.show(cpu.lambda_for(64))}** |" in text


def test_benchmark_widths_are_those_of_the_nets_built():
    from src.experiments.benchmark import BenchmarkConfig, make_benchmark_nets

    table = load_script("scripts/experiments_table.py")
    cfg = BenchmarkConfig.smoke().replace(pretrain__iterations=1, pretrain__batch_size=8)
    for dim in (2, 64):
        D, D_conj = make_benchmark_nets(dim, cfg)[:2]
        assert list(D.hidden_layer_sizes) == table.benchmark_widths(dim) == list(D_conj.hidden_layer_sizes)
