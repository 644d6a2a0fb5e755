"""The Gaussian comparison's glue: methods, the paper's table, bad input."""
import pytest

from src.experiments.gaussians import PAPER_DIMS, PAPER_TABLE, PAPER_W2GN_L2_UVP
from src.experiments.gaussians_baselines import METHODS, PAPER_L2_UVP, comparison_table, run_method
from src.gaussian import random_gaussian_problem


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="method"):
        run_method("OT-ICNN", random_gaussian_problem(2, seed=1), None)


def test_paper_table_covers_every_method_and_dimension():
    assert set(METHODS) <= set(PAPER_L2_UVP)
    assert all(len(PAPER_L2_UVP[m]) == len(PAPER_DIMS) for m in METHODS)
    assert PAPER_L2_UVP["dims"] == list(PAPER_DIMS)
    # the numeric W2GN row is the printed one ("<1" as None)
    assert [PAPER_W2GN_L2_UVP[d] for d in PAPER_DIMS] == [
        None if v == "<1" else float(v) for v in PAPER_TABLE["W2GN"]]


def test_comparison_table_puts_the_paper_row_under_ours():
    text = comparison_table({"W2GN": {"2": 0.5, "4": 1.25}}, dims=[2, 4])
    lines = text.splitlines()
    assert lines[2].split() == ["W2GN", "(ours)", "0.50", "1.25"]
    assert lines[3].split() == ["W2GN", "(paper)", "<1", "<1"]
