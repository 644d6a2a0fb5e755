#!/usr/bin/env python
"""Regenerate pics/ and poster/ from the committed results (``make figures``).

    python scripts/make_figures.py               # writes pics/*.png, poster/W2GN_poster.{svg,png}
    python scripts/make_figures.py --out DIR     # the same files under DIR/pics, DIR/poster

The repository's pics/ and poster/ are drawn from ``cpu``/``paper`` results only; other
profiles (``smoke``) only into a scratch folder (``--out DIR``, or ``--results DIR`` / env
``W2GN_RESULTS_DIR`` elsewhere). The code is the package ``scripts/figures/`` (see its docstring).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.figures import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
