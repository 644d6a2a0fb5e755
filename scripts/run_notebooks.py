#!/usr/bin/env python
"""Execute notebooks top to bottom, in place, with nbclient (used by `make notebooks`).

    python scripts/run_notebooks.py                      # every notebook in notebooks/
    python scripts/run_notebooks.py notebooks/X.ipynb    # some of them
    W2GN_PROFILE=cpu python scripts/run_notebooks.py     # force a profile

The profile defaults to `paper` with a CUDA GPU, else `cpu` (see src/configs.py). A notebook
that fails is saved with its error output and the script exits non-zero after the others ran.
When every notebook ran, pics/ and poster/ are regenerated (scripts/make_figures.py).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from src.utils import atomic_open  # noqa: E402


def run(path: Path, out: Path | None = None, timeout: int | None = None) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        with atomic_open(out or path, "w") as f:  # a killed run leaves the old notebook intact
            nbformat.write(nb, f)
    return time.perf_counter() - start


def main() -> int:
    from src.configs import resolve_profile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    print(f"profile: {resolve_profile()}", flush=True)
    failed = []
    for path in paths:
        print(f"running {path} ...", flush=True)
        try:
            seconds = run(path)
            print(f"  done in {seconds:.0f} s", flush=True)
        except CellExecutionError as err:
            failed.append(path)
            print(f"  FAILED (saved with the error output): {str(err).splitlines()[-1] if str(err) else err}", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}; pics/ and poster/ not "
              "regenerated", file=sys.stderr)
        return 1
    print("regenerating pics/ and poster/ ...", flush=True)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "make_figures.py")]).returncode


if __name__ == "__main__":
    sys.exit(main())
