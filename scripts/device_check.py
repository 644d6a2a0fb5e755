"""Does the ``paper`` profile work on this CUDA GPU? One command, about 10 minutes or less.

Checks, in order (each recorded separately; one failing does not stop the others):

1. ``versions``: GPU, memory, compute capability, torch / CUDA / cuDNN / Python versions.
2. ``equality``: the fast path on CUDA against the CPU — loss and every parameter gradient of
   ``src.w2gn.w2gn_losses`` (DenseICNN's hand-written value + push) in float64 (must agree to
   1e-9) and in float32 (error vs CPU float64 within 10× the CPU float32 error); three
   ``W2GN`` steps (the direct fused-Adam call with CUDA step tensors) in float64 against
   the CPU; ConvICNN128's ∇ψ in float32 with and without TF32 against CPU float64.
3. ``speed``: ms per W2GN step, ours against the reference pattern of
   ``benchmarks/reference.py`` (same nets and batches, CUDA events after warm-up, alternating
   rounds, median), and ConvICNN128 steps (batch 8) with ``conv_tf32`` off and on.
4. ``notebooks``: each notebook's ``paper`` training for ``--steps`` steps (nbclient, env
   ``W2GN_PROFILE=paper`` and ``W2GN_OVERRIDES``), on the real data where it is present and on
   the fake real-format data of ``tests/fake_data.py`` where it is not; results and checkpoints
   go to a temporary folder (the repository's ``results/`` is not touched), peak GPU memory of
   each kernel is read at its end.
5. ``gaussian_4096``: the D = 4096 Gaussian problem set-up and a short W2GN run with its L2-UVP.

Peak GPU memory is recorded per check. The record goes to ``results/device_check.json`` (env
``W2GN_RESULTS_DIR`` or ``--out``), written atomically. Exit status: 0 all checks passed,
1 some failed (see the record), 2 no CUDA device (nothing is run or written).

Run:  python scripts/device_check.py [--steps 200] [--only versions equality speed notebooks gaussian_4096]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXIT_NO_CUDA = 2
DEVICE = "cuda"   # "cpu" only with --dry-run-on-cpu (checks this script's logic; its numbers mean nothing)
CHECKS = ("versions", "equality", "speed", "notebooks", "gaussian_4096")
NO_CUDA_MESSAGE = ("device_check: no CUDA device is available (torch {torch}, built with CUDA {cuda}). "
                   "This script checks the paper profile on a CUDA GPU; nothing was run or written. "
                   "On a CPU machine the paper code paths are exercised by `pytest tests/test_paper_profiles.py`.")


def _fake_data():
    """``tests/fake_data.py`` (fake data in the real formats), imported as the module ``fake_data``
    as the tests import it (``tests/`` on the path)."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(1, tests)
    import fake_data

    return fake_data


def _optimizer_flags(opt) -> dict:
    """The ``fused`` / ``foreach`` flags of an optimiser's parameter group."""
    group = opt.param_groups[0]
    return {"fused": group.get("fused"), "foreach": group.get("foreach")}


def _sync() -> None:
    import torch

    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _peak_mib() -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if DEVICE == "cuda" else None


def _atomic_write_json(path: Path, record: dict) -> None:
    from src.utils import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")


# ------------------------------------------------------------------------------ 1. versions
def check_versions(args) -> dict:
    import torch

    if DEVICE != "cuda":
        return {"dry_run_on_cpu": True, "torch": torch.__version__, "python": platform.python_version()}
    p = torch.cuda.get_device_properties(0)
    out = {"gpu": p.name, "compute_capability": f"{p.major}.{p.minor}", "memory_gib": round(p.total_memory / 2**30, 1),
           "device_count": torch.cuda.device_count(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version(), "python": platform.python_version(),
           "cudnn_allow_tf32_default": torch.backends.cudnn.allow_tf32,
           "matmul_allow_tf32_default": torch.backends.cuda.matmul.allow_tf32}
    try:
        from src.tv import import_torchvision

        out["torchvision"] = import_torchvision().__version__
    except Exception as err:  # reported, not fatal: only the image experiments need it
        out["torchvision"] = f"import failed: {err}"
    return out


# ------------------------------------------------------------------------------ 2. equality
def _rel(a, b) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-300))


def _loss_and_grads(spec, reference, dtype, device):
    from src.w2gn import w2gn_losses

    c = spec["cfg"]
    D, Dc = (net.to(device) for net in reference.make_nets(spec, dropout=0.0, dtype=dtype)[:2])
    D.eval(); Dc.eval()
    X, Y = (t.to(device) for t in reference.batches(spec, 1, dtype=dtype)[0])
    loss = w2gn_losses(D, Dc, X, Y, c.lambda_cycle, c.cycle, c.l1)["loss"]
    loss.backward()
    grads = [p.grad.detach().cpu() for net in (D, Dc) for p in net.parameters()]
    _sync()
    return loss.detach().cpu().double(), grads


def check_equality(args) -> dict:
    import torch

    from src.icnn import ConvICNN128, init_normal_
    from benchmarks import reference
    from src.w2gn import W2GN, W2GNConfig

    out, ok = {"losses": {}}, True
    for spec in reference.configs([16, 256]):
        ref_l, ref_g = _loss_and_grads(spec, reference, torch.float64, "cpu")
        row = {}
        for tag, dtype, device in (("cuda64", torch.float64, DEVICE), ("cuda32", torch.float32, DEVICE),
                                   ("cpu32", torch.float32, "cpu")):
            l, g = _loss_and_grads(spec, reference, dtype, device)
            row[f"{tag}_loss_rel"] = _rel(l, ref_l)
            row[f"{tag}_grad_rel"] = max(_rel(a, b) for a, b in zip(g, ref_g))
        good = (row["cuda64_loss_rel"] <= 1e-9 and row["cuda64_grad_rel"] <= 1e-9
                and row["cuda32_grad_rel"] <= 10 * row["cpu32_grad_rel"] + 1e-6
                and row["cuda32_loss_rel"] <= 10 * row["cpu32_loss_rel"] + 1e-6)
        row["ok"] = good
        ok &= good
        out["losses"][spec["name"]] = row

    # three trainer steps (the first through Adam.step, then the direct fused kernel), float64
    spec = reference.configs([64])[0]
    params = {}
    for device in ("cpu", DEVICE):
        D, Dc = (net.to(device) for net in reference.make_nets(spec, dropout=0.0, dtype=torch.float64)[:2])
        tr = W2GN(D, Dc, W2GNConfig(**{**spec["cfg"].__dict__, "seed": 0}))
        for X, Y in reference.batches(spec, 3, dtype=torch.float64):
            tr.step(X.to(device), Y.to(device))
        params[device] = [p.detach().cpu() for net in (D, Dc) for p in net.parameters()]
        out[f"optimizer_{device}"] = _optimizer_flags(tr.opt)
    out["trainer_3_steps_param_rel"] = max(_rel(a, b) for a, b in zip(params[DEVICE], params["cpu"]))
    ok &= out["trainer_3_steps_param_rel"] <= 1e-9

    # ConvICNN128's map: CUDA float32 with and without TF32 against CPU float64
    g = torch.Generator().manual_seed(0)
    net = ConvICNN128()
    init_normal_(net, 0.01, generator=g)
    net.convexify()
    x = torch.rand(4, 3, 128, 128, generator=g) * 2 - 1
    ref = copy.deepcopy(net).double().push_nograd(x.double())
    conv = {}
    for tf32 in (False, True):
        n = copy.deepcopy(net).to(DEVICE)
        n.conv_tf32 = tf32
        conv[f"tf32_{'on' if tf32 else 'off'}_map_rel"] = _rel(n.push_nograd(x.to(DEVICE)).cpu(), ref)
    conv["cpu32_map_rel"] = _rel(copy.deepcopy(net).push_nograd(x), ref)
    out["conv_icnn128"] = conv
    ok &= conv["tf32_off_map_rel"] <= 10 * conv["cpu32_map_rel"] + 1e-6
    out["ok"] = bool(ok)
    return out


# ------------------------------------------------------------------------------ 3. speed
def _cuda_ms(step, data) -> float:
    import torch

    if DEVICE != "cuda":
        t0 = time.perf_counter()
        for X, Y in data:
            step(X, Y)
        return 1e3 * (time.perf_counter() - t0) / len(data)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for X, Y in data:
        step(X, Y)
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / len(data)


def check_speed(args) -> dict:
    import torch

    from src.icnn import ConvICNN128, init_normal_
    from benchmarks import reference
    from src.w2gn import W2GN, W2GNConfig

    rows = []
    for spec in reference.configs(args.dims):
        D, Dc, R, Rc = (net.to(DEVICE) for net in reference.make_nets(spec))
        steps = {"ref": reference.RefTrainer(R, Rc, spec["cfg"]).step, "ours": W2GN(D, Dc, spec["cfg"]).step}
        data = [(X.to(DEVICE), Y.to(DEVICE)) for X, Y in reference.batches(spec, 20 if DEVICE == "cuda" else 2)]
        for step in steps.values():  # warm-up: kernels, allocator, cuBLAS handles
            _cuda_ms(step, data[:5])
        times = {k: [] for k in steps}
        for _ in range(args.reps):
            for k, step in steps.items():
                times[k].append(_cuda_ms(step, data))
        ref, ours = statistics.median(times["ref"]), statistics.median(times["ours"])
        rows.append({"config": spec["name"], "ref_ms": round(ref, 3), "ours_ms": round(ours, 3),
                     "ratio": round(ref / ours, 2)})
        print(f"  speed {spec['name']:>14}: reference {ref:8.3f} ms, ours {ours:8.3f} ms, x{ref / ours:.2f}", flush=True)
    conv = {}
    for tf32 in (False, True):
        g = torch.Generator().manual_seed(0)
        D, Dc = ConvICNN128(), ConvICNN128()
        init_normal_(D, 0.01, generator=g)
        Dc.load_state_dict(D.state_dict())
        D, Dc = D.to(DEVICE), Dc.to(DEVICE)
        D.conv_tf32 = Dc.conv_tf32 = tf32
        tr = W2GN(D, Dc, W2GNConfig(batch_size=8, lr=1e-4, lambda_cycle=35000.0, cycle="both_mean",
                                    progress=False))
        b, n = (8, 10) if DEVICE == "cuda" else (1, 1)
        data = [(torch.rand(b, 3, 128, 128, device=DEVICE) * 2 - 1, torch.rand(b, 3, 128, 128, device=DEVICE) * 2 - 1)
                for _ in range(n)]
        rounds = 3 if DEVICE == "cuda" else 1
        if DEVICE == "cuda":
            _cuda_ms(tr.step, data[:3])  # warm-up (cuDNN algorithm search, allocator)
        conv[f"tf32_{'on' if tf32 else 'off'}_ms"] = round(statistics.median(_cuda_ms(tr.step, data) for _ in range(rounds)), 2)
    print(f"  speed ConvICNN128 batch 8: {conv}", flush=True)
    return {"unit": "CUDA ms per step (CUDA events, after warm-up; median of alternating rounds)",
            "rows": rows, "conv_icnn128_batch8": conv, "ok": True}


# ------------------------------------------------------------------------------ 4. notebooks
def _gpu_overrides(stem: str, steps: int) -> dict:
    """W2GN_OVERRIDES of the notebook slices: ``steps`` training steps, the paper's batches and
    networks, smaller evaluation sets and dimension lists."""
    half = max(1, steps // 2)
    common = {"w2gn.iterations": steps, "pretrain.iterations": steps}
    table = {
        "W2GN_toy_experiments": {"ToyConfig": dict(common, iterations_many_modes=steps, eval_every=half,
                                                   n_fit=20_000, **{"w2gn.log_every": half})},
        "W2GN_gaussians_high_dimensions": {"GaussiansConfig": dict(common, dims=[2, 64, 1024], eval_every=half,
                                                                   scatter_dims=[64])},
        "W2GN_gaussians_baselines": {"GaussiansBaselinesConfig": {"iterations": steps, "pretrain.iterations": steps,
                                                                  "dims": [2, 64], "log_every": half}},
        "W2GN_benchmark": {"BenchmarkConfig": dict(common, dims=[2, 16], eval_every=half)},
        "W2GN_color_transfer": {"ColorTransferConfig": dict(iterations=steps, pretrain_iterations=steps,
                                                            log_every=half)},
        "W2GN_domain_adaptation": {"DomainAdaptationConfig": dict(common, lenet_epochs=1, eval_every=half,
                                                                  emd_target_size=2000, **{"w2gn.log_every": half})},
        "AE_Celeba": {"AEConfig": dict(iterations=steps, log_every=half)},
        "W2GN_latent_space_optimal_transport": {
            "AEConfig": dict(iterations=steps, log_every=half),
            "LatentOTConfig": dict(common, n_encode=20_000, n_fid_samples=64, **{"w2gn.log_every": half})},
        "W2GN_style_transfer": {"StyleTransferConfig": dict(common, plot_every=steps, n_eval=64, fid_samples=64,
                                                            **{"w2gn.log_every": half})},
    }
    return table[stem]


def _real_data(stem: str) -> bool | None:
    """Whether the real data of a notebook are present (None: it needs none)."""
    from src import datasets as ds
    from src.benchmark import locate_root
    from src.experiments.benchmark import BenchmarkConfig

    root = ds.data_root()
    if stem in ("AE_Celeba", "W2GN_latent_space_optimal_transport"):
        return ds.celeba_folder().is_dir()
    if stem == "W2GN_style_transfer":
        return (ds.cyclegan_folder() / "trainA").is_dir()
    if stem == "W2GN_domain_adaptation":
        return (root / "downloads" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file() and \
            (root / "downloads" / "USPS" / "usps.bz2").is_file()
    if stem == "W2GN_benchmark":
        folder = locate_root(None) / "Mix3toMix10"
        return all((folder / f"{d}_v{v}.pt").is_file() for d in BenchmarkConfig.paper().dims for v in (1, 2))
    if stem == "W2GN_color_transfer":
        return (root / "color_transfer" / "china.jpg").is_file()
    return None


_PEAK_CELL = ("import torch as _t, json as _j\n"
              "print('DEVICE_CHECK ' + _j.dumps({'peak_bytes': _t.cuda.max_memory_allocated() if _t.cuda.is_available() "
              "else None, 'cuda': _t.cuda.is_available()}))")


def check_notebooks(args) -> dict:
    import nbformat
    from nbclient import NotebookClient

    fake = _fake_data()
    work = Path(tempfile.mkdtemp(prefix="w2gn_device_check_"))
    # 400 CelebA images: more than one batch (128) of the paper's autoencoder in the 80 % train split
    fake_env = fake.write_all(work / "fake_data", work / "fake_w2bench", benchmark_dims=(2, 16), celeba_images=400)
    rows, ok = {}, True
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    t_start = time.perf_counter()
    saved = dict(os.environ)
    for path in notebooks:
        stem = path.stem
        if args.notebooks and stem not in args.notebooks:
            continue
        if time.perf_counter() - t_start > args.notebook_budget_s:
            rows[stem] = {"ok": False, "error": f"not run: the notebooks' time budget ({args.notebook_budget_s} s) was spent"}
            ok = False
            continue
        real = _real_data(stem)
        env = {"W2GN_PROFILE": "paper", "W2GN_OVERRIDES": json.dumps(_gpu_overrides(stem, args.steps)),
               "W2GN_RESULTS_DIR": str(work / "results"), "W2GN_MODELS_DIR": str(work / "models"),
               "MPLBACKEND": "Agg",
               "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
        if real is False:
            env.update(fake_env)
        os.environ.update(env)
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(_PEAK_CELL))
        t0 = time.perf_counter()
        row = {"data": {None: "synthetic", True: "real", False: "fake (tests/fake_data.py)"}[real]}
        try:
            NotebookClient(nb, timeout=args.cell_timeout_s, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            text = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
            info = json.loads(text.split("DEVICE_CHECK ", 1)[1])
            row.update(ok=bool(info["cuda"]) or DEVICE != "cuda", peak_gpu_mib=round((info["peak_bytes"] or 0) / 2**20, 1))
            if not row["ok"]:
                row["error"] = "the notebook kernel did not see CUDA"
        except Exception as err:
            row.update(ok=False, error=f"{type(err).__name__}: {str(err)[-1500:]}")
        finally:
            os.environ.clear()
            os.environ.update(saved)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        exp = sorted((work / "results").glob("*.json"), key=lambda p: p.stat().st_mtime)
        if row["ok"] and exp:
            rec = json.loads(exp[-1].read_text())
            row["experiment"], row["metrics"] = rec.get("experiment"), rec.get("metrics")
        ok &= row["ok"]
        rows[stem] = row
        print(f"  notebook {stem}: {'OK' if row['ok'] else 'FAILED'} in {row['seconds']} s, data {row['data']}"
              + (f", peak GPU {row.get('peak_gpu_mib')} MiB" if row["ok"] else f": {row['error'][-300:]}"), flush=True)
    return {"steps": args.steps, "work_folder": str(work), "runs": rows, "ok": bool(ok)}


# ------------------------------------------------------------------------------ 5. D = 4096
def check_gaussian_4096(args) -> dict:
    import resource

    import torch

    import src.experiments.gaussians as eg
    from src.experiments.gaussians import GaussiansConfig
    from src.gaussian import random_gaussian_problem

    cfg = GaussiansConfig.paper().replace(w2gn__iterations=args.steps, pretrain__iterations=args.steps,
                                          eval_every=max(1, args.steps // 2), w2gn__progress=False)
    t0, c0 = time.perf_counter(), time.process_time()
    dim = args.gauss_dim
    problem = random_gaussian_problem(dim, cfg.problem_seed)   # timed once, then reused by the run
    setup_s, setup_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    original = eg.random_gaussian_problem
    eg.random_gaussian_problem = lambda d, s=0: problem if (d, s) == (dim, cfg.problem_seed) else original(d, s)
    try:
        r = eg.run_gaussian_dim(dim, cfg, torch.device(DEVICE))
    finally:
        eg.random_gaussian_problem = original
    return {"dim": dim, "problem_setup_s": round(setup_s, 1), "problem_setup_cpu_s": round(setup_cpu_s, 1),
            "host_peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 1), "iterations": args.steps, "pretrain_iterations": args.steps,
            "l2_uvp": r.l2_uvp, "l2_uvp_inverse": r.l2_uvp_inverse, "w2_true": r.w2_true,
            "w2_estimate": r.w2_estimate, "run_s": round(r.time_s, 1), "pretrain_loss": r.pretrain_loss,
            "ok": bool(torch.isfinite(torch.tensor(r.l2_uvp)))}


# ------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", choices=CHECKS, default=list(CHECKS), help="checks to run (default: all)")
    ap.add_argument("--steps", type=int, default=200, help="training steps of each notebook slice and of D = 4096")
    ap.add_argument("--dims", type=int, nargs="*", default=[16, 256, 1024, 4096], help="Gaussian D of the speed check")
    ap.add_argument("--gauss-dim", type=int, default=4096, help="D of the short Gaussian run (check gaussian_4096)")
    ap.add_argument("--reps", type=int, default=5, help="alternating timing rounds of the speed check")
    ap.add_argument("--notebooks", nargs="*", default=None, help="notebook names to run (default: all nine)")
    ap.add_argument("--notebook-budget-s", type=float, default=330.0,
                    help="no new notebook starts after this many seconds of the notebook check")
    ap.add_argument("--cell-timeout-s", type=int, default=300)
    ap.add_argument("--out", type=Path, default=None, help="default: results/device_check.json")
    ap.add_argument("--dry-run-on-cpu", action="store_true", help=argparse.SUPPRESS)  # tests this script's logic
    args = ap.parse_args(argv)

    import torch

    global DEVICE
    DEVICE = "cpu" if args.dry_run_on_cpu else "cuda"
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print(NO_CUDA_MESSAGE.format(torch=torch.__version__, cuda=torch.version.cuda), file=sys.stderr)
        return EXIT_NO_CUDA
    from src.utils import results_dir

    out = args.out or results_dir() / "device_check.json"
    record = {"experiment": "device_check", "dry_run_on_cpu": DEVICE != "cuda", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "checks": {}}
    t_all = time.perf_counter()
    for name in CHECKS:
        if name not in args.only:
            continue
        print(f"[{name}]", flush=True)
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        try:
            result = globals()[f"check_{name}"](args)
        except Exception as err:  # recorded; the other checks still run
            result = {"ok": False, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()[-3000:]}
        result.setdefault("ok", True)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        result["peak_gpu_mib_this_process"] = _peak_mib()
        record["checks"][name] = result
        print(f"[{name}] {'OK' if result['ok'] else 'FAILED'} in {result['seconds']} s"
              + ("" if result["ok"] else f": {result.get('error', 'see the record')}"), flush=True)
        _atomic_write_json(out, {**record, "total_s": round(time.perf_counter() - t_all, 1)})  # partial results survive
    record["total_s"] = round(time.perf_counter() - t_all, 1)
    record["ok"] = all(c["ok"] for c in record["checks"].values())
    _atomic_write_json(out, record)
    print(f"wrote {out}: {'all checks passed' if record['ok'] else 'SOME CHECKS FAILED'} in {record['total_s']} s")
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
