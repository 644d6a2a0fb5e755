#!/usr/bin/env python
"""Execute notebooks top to bottom, in place, with nbclient (used by `make notebooks`).

    python scripts/run_notebooks.py                      # every notebook in notebooks/
    python scripts/run_notebooks.py notebooks/X.ipynb    # some of them
    W2GN_PROFILE=cpu python scripts/run_notebooks.py     # force a profile

The profile defaults to `paper` with a CUDA GPU, else `cpu` (see src/configs.py). A notebook
that fails is saved with its error output and the script exits non-zero after the others ran.

A full run (`cpu` / `paper`, no W2GN_OVERRIDES) executes the notebooks in place, writes
results/*.json and, when every notebook ran, regenerates pics/ and poster/
(scripts/make_figures.py). A quick run (`smoke`, or any run with W2GN_OVERRIDES) touches none of
these: the executed copies go to scratch/notebooks/ and the results to scratch/results/ (or
W2GN_RESULTS_DIR; W2GN_SCRATCH_DIR moves both), and no figures are drawn.
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

from src.utils import atomic_open, display_path, is_quick_run, results_dir, scratch_dir  # noqa: E402


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
    profile = resolve_profile()
    quick = is_quick_run(profile)
    print(f"profile: {profile}", flush=True)
    if quick:
        copies = scratch_dir() / "notebooks"
        copies.mkdir(parents=True, exist_ok=True)
        print(f"a quick run: executed notebooks go to {display_path(copies)}/, results to "
              f"{display_path(results_dir(profile))}/ (the committed notebooks, results/, pics/ and poster/ "
              "are left as they are)", flush=True)
    failed = []
    for path in paths:
        print(f"running {path} ...", flush=True)
        try:
            seconds = run(path, scratch_dir() / "notebooks" / path.name if quick else None)
            print(f"  done in {seconds:.0f} s", flush=True)
        except CellExecutionError as err:
            failed.append(path)
            print(f"  FAILED (saved with the error output): {str(err).splitlines()[-1] if str(err) else err}", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}; pics/ and poster/ not "
              "regenerated", file=sys.stderr)
        return 1
    if quick:
        print("quick run: pics/ and poster/ not regenerated (they are drawn from full runs only)", flush=True)
        return 0
    print("regenerating pics/ and poster/ ...", flush=True)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "make_figures.py")]).returncode


if __name__ == "__main__":
    sys.exit(main())
