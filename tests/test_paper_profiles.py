"""Every notebook's ``paper`` code path, executed on CPU with fake real-format data.

Each notebook runs top to bottom (nbclient, as the smoke tests) under ``W2GN_PROFILE=paper``
with env ``W2GN_OVERRIDES`` (:func:`src.configs.apply_overrides`) shrinking only iteration
counts, sample counts and dimensions, and with the fake data of ``tests/fake_data.py`` (env
``W2GN_DATA``, ``W2GN_W2BENCH``). Everything else is the paper preset: its loaders, its
architectures (ConvICNN128 at 128×128, the CelebA autoencoder at 64×64, LeNet on USPS → MNIST),
FID with the offline Inception weights and the checkpoints. Results and checkpoints go to
temporary folders; the repository's ``results/`` and ``models/`` must stay untouched.
"""
import json
import os
import re
import time
from dataclasses import fields
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import fake_data
from test_notebooks import NOTEBOOKS, ROOT

from src import configs as C
from src.experiments.color_transfer import ColorTransferConfig
from src.experiments import autoencoder, benchmark, domain_adaptation, gaussians, gaussians_baselines, latent_ot
from src.experiments import style_transfer, toy

_AE = {"iterations": 2, "batch_size": 8, "log_every": 1}
#: (dotted paths name the fields of the nested sections ``pretrain`` and ``w2gn``)
#: per notebook: the config classes it reads and the overrides of each (iterations, sample counts,
#: dimensions only). ConvICNN128 costs ~10 s per W2GN step of one 128×128 image on 2 CPU cores:
#: style transfer makes one step of each kind on single images.
OVERRIDES = {
    "W2GN_toy_experiments": {toy.ToyConfig: {
        "pretrain.iterations": 5, "w2gn.iterations": 4, "w2gn.log_every": 2, "iterations_many_modes": 4,
        "eval_every": 2, "n_eval": 512, "n_coverage": 2000, "n_plot": 300, "n_fit": 5000}},
    "W2GN_gaussians_high_dimensions": {gaussians.GaussiansConfig: {
        "dims": [2, 16], "w2gn.iterations": 4, "pretrain.iterations": 5, "eval_every": 2, "n_eval": 512,
        "scatter_dims": [16]}},
    "W2GN_gaussians_baselines": {gaussians_baselines.GaussiansBaselinesConfig: {
        "dims": [2, 4], "iterations": 4, "pretrain.iterations": 5, "mm1_inner_iterations": 2,
        "mm2_inner_iterations": 2, "n_eval": 1024, "log_every": 2}},
    "W2GN_benchmark": {benchmark.BenchmarkConfig: {
        "dims": [2], "w2gn.iterations": 4, "pretrain.iterations": 5, "eval_every": 2, "estimate_size": 4096}},
    "W2GN_color_transfer": {ColorTransferConfig: dict(
        pretrain_iterations=4, iterations=4, log_every=2, lut_sizes=[9, 17], eval_points=2000,
        sw_projections=64, plot_points=300, speed_megapixels=0.05)},
    "W2GN_domain_adaptation": {domain_adaptation.DomainAdaptationConfig: {
        "lenet_epochs": 1, "pretrain.iterations": 5, "w2gn.iterations": 4, "w2gn.log_every": 2, "eval_every": 2,
        "emd_target_size": 200}},
    "AE_Celeba": {autoencoder.AEConfig: _AE},
    "W2GN_latent_space_optimal_transport": {
        autoencoder.AEConfig: _AE,
        latent_ot.LatentOTConfig: {"w2gn": {"iterations": 3, "batch_size": 256, "log_every": 1},
                                   "pretrain": {"iterations": 3, "batch_size": 256}, "n_fid_samples": 8,
                                   "fid_batch_size": 8}},
    "W2GN_style_transfer": {style_transfer.StyleTransferConfig: {
        "pretrain.iterations": 1, "pretrain.batch_size": 1, "w2gn": {"batch_size": 1, "iterations": 1, "log_every": 1},
        "plot_every": 1, "n_eval": 2, "fid_samples": 2, "n_grid": 1}},
}
#: results/<experiment>.json each notebook writes
EXPERIMENT = {"W2GN_toy_experiments": "toy", "W2GN_gaussians_high_dimensions": "gaussians",
              "W2GN_gaussians_baselines": "gaussians_baselines", "W2GN_benchmark": "benchmark",
              "W2GN_color_transfer": "color_transfer", "W2GN_domain_adaptation": "domain_adaptation",
              "AE_Celeba": "autoencoder", "W2GN_latent_space_optimal_transport": "latent_ot",
              "W2GN_style_transfer": "style_transfer"}


def overrides_json(stem: str, checkpoint_dir: Path) -> str:
    """W2GN_OVERRIDES of notebook ``stem``: one section per config class; a class with periodic
    checkpoints (fields ``checkpoint_every`` / ``checkpoint_dir``) writes them every step into
    ``checkpoint_dir``."""
    out = {}
    for cls, changes in OVERRIDES[stem].items():
        names = {f.name for f in fields(cls)}
        section = dict(changes)
        if "checkpoint_every" in names:
            section["checkpoint_every"] = 1
        if "checkpoint_dir" in names:
            section["checkpoint_dir"] = str(checkpoint_dir)
        out[cls.__name__] = section
    return json.dumps(out)


@pytest.fixture(scope="module")
def fake_roots(tmp_path_factory):
    """Fake data (written once) and one models folder shared by the module's notebooks, so that
    the latent-OT notebook loads the autoencoder that AE_Celeba trained (as in real use)."""
    base = tmp_path_factory.mktemp("paper_profile")
    env = fake_data.write_all(base / "data", base / "w2bench", benchmark_dims=(2,))
    env["W2GN_MODELS_DIR"] = str(base / "models")
    return base, env


_NOT_WATCHED = {".git", ".venv", "__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def _repo_snapshot() -> dict:
    """Modification times of every file in the repository (but git's, the venv's, caches)."""
    out = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _NOT_WATCHED]
        for name in files:
            path = Path(folder) / name
            out[path] = path.stat().st_mtime_ns
    return out


def test_overrides_cover_every_notebook():
    assert sorted(OVERRIDES) == sorted(p.stem for p in NOTEBOOKS)


def test_apply_overrides(monkeypatch, capsys):
    monkeypatch.setenv(C.OVERRIDES_ENV, json.dumps({"w2gn.iterations": 7, "dims": [2, 8], "iterations_by_dim": {"8": 3},
                                                    "pretrain": {"tol": 0.5}, "AEConfig": {"iterations": 2}}))
    cfg = C.get_config(gaussians.GaussiansConfig, "paper")
    assert (cfg.profile, cfg.w2gn.iterations, cfg.dims, cfg.iterations_for(8)) == ("paper", 7, (2, 8), 3)
    assert cfg.w2gn.batch_size == gaussians.GaussiansConfig.paper().w2gn.batch_size
    assert (cfg.pretrain.tol, cfg.pretrain.iterations) == (0.5, gaussians.GaussiansConfig.paper().pretrain.iterations)
    assert "W2GN_OVERRIDES (GaussiansConfig, profile paper): w2gn.iterations 5000 -> 7" in capsys.readouterr().out
    monkeypatch.setenv(C.OVERRIDES_ENV, json.dumps({"AEConfig": {"iterations": 2}}))
    assert C.get_config(autoencoder.AEConfig, "paper").iterations == 2
    # the section is AEConfig's only (get_config adds the paper profile's checkpoint folder, nothing else)
    assert C.get_config(latent_ot.LatentOTConfig, "paper", checkpoint_dir=None) == latent_ot.LatentOTConfig.paper()
    assert C.get_config(autoencoder.AEConfig, "paper", iterations=5).iterations == 5       # explicit arguments win
    for bad, message in (('{"iterationz": 1}', "unknown field(s) ['iterationz'] of GaussiansConfig; valid fields: seed, checkpoint_dir, dims"),
                         ('{"profile": "cpu"}', "unknown field(s) ['profile']"),
                         ('{"w2gn.iterations": "7"}', "cannot set it to '7'"),
                         ('{"w2gn": {"iterations": 2.5}}', "cannot set it to 2.5"),
                         ('{"pretrain.iterationz": 1}', "unknown field(s) ['iterationz'] of GaussiansConfig.pretrain."),
                         ('{"dims": 2}', "GaussiansConfig.dims"), ('{"w2gn.iterations": null}', "cannot be null"),
                         ('{"w2gn.cycle": "sideways"}', "cycle must be one of"),
                         ("[1]", "must be a JSON object"),
                         ("{iterations: 1}", "not valid JSON")):
        monkeypatch.setenv(C.OVERRIDES_ENV, bad)
        with pytest.raises(ValueError, match=re.escape(message)):
            C.get_config(gaussians.GaussiansConfig, "paper")
    monkeypatch.setenv(C.OVERRIDES_ENV, "")
    assert C.get_config(toy.ToyConfig, "smoke") == toy.ToyConfig.smoke()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_paper_profile(path, fake_roots, tmp_path, monkeypatch):
    base, env = fake_roots
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("W2GN_PROFILE", "paper")
    monkeypatch.setenv("W2GN_OVERRIDES", overrides_json(path.stem, tmp_path / "checkpoints"))
    monkeypatch.setenv("W2GN_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("W2GN_DEVICE", "cpu")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
    repo_before = _repo_snapshot()
    models = Path(env["W2GN_MODELS_DIR"])
    models_before = {f.name for f in models.glob("*")} if models.is_dir() else set()

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    print(f"{path.stem}: paper profile on fake data in {time.perf_counter() - t0:.1f} s")

    after = _repo_snapshot()
    changed = sorted(str(p.relative_to(ROOT)) for p in set(after) | set(repo_before) if after.get(p) != repo_before.get(p))
    assert not changed, f"the notebook wrote into the repository: {changed[:10]}"
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "W2GN_OVERRIDES (" in text, "the first cell did not print the overrides"
    record = json.loads((tmp_path / "results" / f"{EXPERIMENT[path.stem]}.json").read_text())
    assert record["profile"] == "paper"
    check = CHECKS.get(path.stem)
    if check:
        check(record, text, Path(env["W2GN_DATA"]), models, models_before)


# ------------------------------------------------------------------ what each paper path must have used
def _check_domain_adaptation(record, text, data, models, models_before):
    assert str(data / "downloads") in record["data"] and "USPS" in record["data"]
    assert (models / "domain_adaptation_paper.pt").is_file()


def _check_autoencoder(record, text, data, models, models_before):
    assert record["config"]["dataset"] == "celeba" and record["config"]["image_size"] == 64
    assert (models / record["checkpoint"]).is_file()


def _check_latent_ot(record, text, data, models, models_before):
    assert record["metrics"]["fid_status"] and all(
        isinstance(record["metrics"][k], float) for k in ("fid_reconstruct", "fid_raw_decode", "fid_w2gn")), \
        f"FID was not computed: {record['metrics']['fid_status']}"
    assert (models / "latent_w2gn_celeba_paper.pt").is_file()
    # after AE_Celeba (same module, same models folder) its autoencoder checkpoint is loaded
    ae_saved_before = any(n.startswith("ae_celeba") for n in models_before)
    assert record["autoencoder_trained_here"] is not ae_saved_before


def _check_style_transfer(record, text, data, models, models_before):
    assert "ConvICNN128" in text, "the paper's ConvICNN128 was not built"
    assert str(data / "cyclegan") in record["data"]
    assert isinstance(record["metrics"]["fid_after"], float), record["metrics"]["fid_note"]
    assert (models / "style_transfer_paper.pt").is_file()


def _check_benchmark(record, text, data, models, models_before):
    assert "w2bench" in record["data"]


CHECKS = {"W2GN_domain_adaptation": _check_domain_adaptation, "AE_Celeba": _check_autoencoder,
          "W2GN_latent_space_optimal_transport": _check_latent_ot, "W2GN_style_transfer": _check_style_transfer,
          "W2GN_benchmark": _check_benchmark}
