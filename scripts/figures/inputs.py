"""What the figures are drawn from, checked: ``results/<experiment>.json`` and the PNG outputs the
notebooks preserved. A missing file, key, cell or image, or a results file of a profile the
figures may not use, raises :class:`InputError` with a message naming it; nothing is skipped."""
from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

ROOT = Path(__file__).resolve().parents[2]

#: the profiles of full runs: the repository's pics/ and poster/ are drawn from these only
FULL_PROFILES = ("cpu", "paper")

#: the results files the figures and the poster read
RESULTS = ("toy", "gaussians", "gaussians_baselines", "benchmark", "latent_ot", "color_transfer",
           "domain_adaptation", "style_transfer")

#: notebook images used, by (notebook, a string that occurs in exactly one code cell's source);
#: the cell's image/png outputs are taken in order. The profile the notebook's first cell printed
#: must be that of the results file it writes (NOTEBOOK_RESULTS), so images and numbers match.
NOTEBOOK_IMAGES = {
    "toy_maps": ("W2GN_toy_experiments", "plot_toy_maps("),            # one image per toy target
    "toy_coverage": ("W2GN_toy_experiments", "plot_mode_shares("),       # components' shares histogram
    "latent_samples": ("W2GN_latent_space_optimal_transport", "plot_generated_comparison("),
    "color_images": ("W2GN_color_transfer", "map_image(cmap, source)"),
    "color_clouds": ("W2GN_color_transfer", "plot_rgb_clouds("),       # forward, then inverse
    "da_pca": ("W2GN_domain_adaptation", "W2GN-mapped"),
    "style_grids": ("W2GN_style_transfer", "fwd_eval, inv_eval = maps("),  # eval images 0–7, 8–15
}
NOTEBOOK_RESULTS = {"W2GN_toy_experiments": "toy", "W2GN_latent_space_optimal_transport": "latent_ot",
                    "W2GN_color_transfer": "color_transfer", "W2GN_domain_adaptation": "domain_adaptation",
                    "W2GN_style_transfer": "style_transfer"}


class InputError(RuntimeError):
    """A results file, key, notebook cell or image the figures need is missing or unusable."""


class Inputs:
    """Lazy, checked access to the results files and the notebooks' output images.

    Args:
        root: the repository (``root/results``, ``root/notebooks`` by default).
        results_dir: folder of the ``<experiment>.json`` files (default: env ``W2GN_RESULTS_DIR``,
            as the notebooks write them, else ``root/results``).
        notebooks_dir: folder of the executed notebooks (default ``root/notebooks``).
        profiles: the profiles a results file may have (``None``: any); see :data:`FULL_PROFILES`.
    """

    def __init__(self, root: Path = ROOT, results_dir: Path | None = None, notebooks_dir: Path | None = None,
                 profiles: tuple[str, ...] | None = None):
        self.root = Path(root)
        self.results_dir = Path(results_dir or os.environ.get("W2GN_RESULTS_DIR") or self.root / "results")
        self.notebooks_dir = Path(notebooks_dir or self.root / "notebooks")
        self.profiles = profiles
        self._results: dict[str, dict] = {}
        self._notebooks: dict[str, dict] = {}

    def results(self, name: str) -> dict:
        if name not in self._results:
            path = self.results_dir / f"{name}.json"
            if not path.exists():
                raise InputError(f"missing results file {path} (run the notebook that writes it, or restore it "
                                 "from git)")
            record = json.loads(path.read_text())
            profile = record.get("profile")
            if self.profiles is not None and profile not in self.profiles:
                raise InputError(
                    f"results/{name}.json ({path}) is from profile {profile!r}: the repository's pics/ and poster/ "
                    f"are drawn only from full runs (profile {' or '.join(self.profiles)}). Re-run its notebook in "
                    "one of them, or draw these results into a scratch folder: "
                    "python scripts/make_figures.py --out DIR")
            self._results[name] = record
        return self._results[name]

    def check_results(self, names=RESULTS) -> None:
        """Load (and so check) every results file of ``names`` before anything is drawn."""
        for name in names:
            self.results(name)

    def get(self, name: str, *keys):
        """``results/<name>.json[keys[0]][keys[1]]…``, or an :class:`InputError` naming the key."""
        value = self.results(name)
        for i, key in enumerate(keys):
            if not isinstance(value, dict) or key not in value:
                raise InputError(f"results/{name}.json lacks the key {'.'.join(map(str, keys[:i + 1]))}")
            value = value[key]
        return value

    def note(self, name: str) -> str:
        """'profile P · data D · results/NAME.json' for a figure's label."""
        data = re.sub(r"(?<!\S)(/[\w.-]+)+/([\w.-]+)", r"\2", self.get(name, "data"))  # no machine paths
        return f"profile: {self.get(name, 'profile')} · data: {data} · numbers: results/{name}.json"

    def notebook_images(self, key: str) -> list[np.ndarray]:
        """The image/png outputs (``[H, W, 4]`` float arrays) of the cell ``NOTEBOOK_IMAGES[key]``."""
        notebook, needle = NOTEBOOK_IMAGES[key]
        path = self.notebooks_dir / f"{notebook}.ipynb"
        if notebook not in self._notebooks:
            if not path.exists():
                raise InputError(f"missing notebook notebooks/{notebook}.ipynb ({path})")
            nb = json.loads(path.read_text())
            self._check_profile(notebook, nb)
            self._notebooks[notebook] = nb
        cells = [c for c in self._notebooks[notebook]["cells"]
                 if c.get("cell_type") == "code" and needle in "".join(c.get("source", ""))]
        if len(cells) != 1:
            raise InputError(f"notebooks/{notebook}.ipynb: expected one code cell containing {needle!r}, "
                             f"found {len(cells)}")
        images = [mpimg.imread(io.BytesIO(base64.b64decode("".join(o["data"]["image/png"]))), format="png")
                  for o in cells[0].get("outputs", []) if "image/png" in o.get("data", {})]
        if not images:
            raise InputError(f"notebooks/{notebook}.ipynb: the cell containing {needle!r} has no image output "
                             "(run the notebook to preserve its outputs)")
        return images

    def _check_profile(self, notebook: str, nb: dict):
        """The profile printed in the notebook's outputs is the profile of its results file."""
        text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c.get("cell_type") == "code"
                       for o in c.get("outputs", []))
        found = re.search(r"^profile:\s+(\w+)", text, flags=re.M)
        if found is None:
            raise InputError(f"notebooks/{notebook}.ipynb: no 'profile: …' line in its outputs (run the notebook)")
        name = NOTEBOOK_RESULTS[notebook]
        if found.group(1) != self.get(name, "profile"):
            raise InputError(f"notebooks/{notebook}.ipynb shows profile {found.group(1)!r} but results/{name}.json "
                             f"is from profile {self.get(name, 'profile')!r}: re-run the notebook so both match, or "
                             f"name the folder of the notebooks that wrote these results with --notebooks DIR "
                             f"(read: {self.notebooks_dir})")

    def notebook_image(self, key: str, index: int = 0) -> np.ndarray:
        images = self.notebook_images(key)
        if index >= len(images):
            notebook, needle = NOTEBOOK_IMAGES[key]
            raise InputError(f"notebooks/{notebook}.ipynb: the cell containing {needle!r} has {len(images)} "
                             f"image output(s), image {index} is needed")
        return images[index]

    def toy_image(self, target: str) -> np.ndarray:
        """The toy notebook's map panel of ``target`` (its cell draws one image per target, in the
        order of ``config.targets``)."""
        targets = self.get("toy", "config", "targets")
        if target not in targets:
            raise InputError(f"results/toy.json config.targets has no {target!r}: {targets}")
        return self.notebook_image("toy_maps", targets.index(target))


def paper_value(cell) -> tuple[float, str]:
    """A paper table cell ("1.3", "<1", ">50") → (value to draw, marker: 'o', 'v' upper / '^' lower bound)."""
    s = str(cell).strip()
    return float(s.lstrip("<>")), {"<": "v", ">": "^"}.get(s[0], "o")


def section(config: dict, name: str) -> dict:
    """The nested section ``name`` (``icnn``, ``w2gn``) of a results file's config (results written
    before the configs were nested hold its fields at the top level)."""
    return config.get(name, config)


def steps_by_dim(iterations: dict) -> tuple[str, str]:
    """``{"2": 12000, "4": 16000, …}`` → ("12000/16000/…", "2/4/…"), both in the order of D (one
    number when every D trained as long)."""
    dims = sorted(iterations, key=int)
    steps = [iterations[d] for d in dims]
    if len(set(steps)) == 1:
        return str(steps[0]), "/".join(dims)
    return "/".join(map(str, steps)), "/".join(dims)
