"""Plot tests draw on matplotlib's Agg backend (no display) and close every figure they open."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def render(fig):
    """Draw ``fig`` on its canvas (layout, text, artists: errors appear here) and return it."""
    fig.canvas.draw()
    return fig
