"""``python -m src.color_transfer``: the command-line interface (:mod:`src.color_transfer.cli`)."""
import sys

from .cli import main

sys.exit(main())
