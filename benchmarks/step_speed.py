"""Speed of one W2GN training step: ours (``src.w2gn.W2GN.step``) against the
reference computation pattern, side by side in one process.

The reference implementation's computation pattern (re-implemented, not copied) and the
benchmarked problems are :mod:`benchmarks.reference`.

Before timing, both steps are run from the same weights on the same batch and must give the same
loss (relative difference ≤ 1e-5) and the same parameter gradients (dropout off: eval masks).
Matrix-product FLOPs per step are counted with ``torch.utils.flop_counter.FlopCounterMode``.

Ours runs with ``src.fast.gemm``'s default (its large float32 CPU products on oneDNN where usable)
and, in the same alternating rounds, a second time with every product on ``torch.mm`` (MKL, as
the reference pattern): the column "ours torch.mm" separates the gain of the computation from
that of the matrix-product library (``--cpu-matmul torch`` times only the latter).

Times are CPU time of this process (``time.process_time``) per step — on a shared machine the
wall clock mostly measures how often the scheduler runs us — with the wall-clock ratio beside
them (with ``--threads`` > 1 CPU time adds up the threads: compare wall clocks then).
See benchmarks/README.md for the results and what each part of the fast path (``src.fast``) buys.

Run:  python benchmarks/step_speed.py [--threads 1] [--dims 2 16 64 256 1024] [--reps 7]
      [--cpu-matmul auto|torch]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/step_speed.py`
from benchmarks.reference import RefTrainer, batches, configs, make_nets, ref_losses  # noqa: E402, F401
from src.fast import gemm  # noqa: E402
from src.utils import atomic_write_text  # noqa: E402
from src.w2gn import W2GN, w2gn_losses  # noqa: E402


# ---------------------------------------------------------------------------- correctness
def _losses_and_grads(spec, dtype):
    c = spec["cfg"]
    D, Dc, R, Rc = make_nets(spec, dropout=0.0, dtype=dtype)
    for net in (D, Dc, R, Rc):
        net.eval()
    X, Y = batches(spec, 1, dtype=dtype)[0]
    ours = w2gn_losses(D, Dc, X, Y, c.lambda_cycle, c.cycle, c.l1)["loss"]
    ours.backward()
    ref = ref_losses(R, Rc, X, Y, c.lambda_cycle, c.cycle, c.l1)
    ref.backward()
    grads = []
    for a, b in ((D, R), (Dc, Rc)):
        pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
        assert set(pa) == set(pb)
        grads += [(pa[k].grad.double(), pb[k].grad.double()) for k in pa]
    return ours.item(), ref.item(), grads


def check(spec):
    """Loss and all parameter gradients of ours and of the reference pattern from the same
    weights and batch (dropout off), in float64 and float32.

    Returns ``(loss_rel64, grad_rel64, loss_rel32, grad_rel32, ref_noise32, ours_noise32)``: relative
    differences ours vs reference (gradients: max over tensors of ‖g_ours − g_ref‖/‖g_ref‖, the
    norm floored at 1e-9 of the largest gradient's, so that a tensor whose gradient is ~0 at
    this initialisation — e.g. the biases at D = 1024 — does not report rounding noise divided by
    ~0), the reference's own float32 rounding error (‖g_ref32 − g_ref64‖/‖g_ref64‖) for scale, and
    ours (‖g_ours32 − g_ref64‖/‖g_ref64‖), which must stay of the same size.
    """
    o64, r64, g64 = _losses_and_grads(spec, torch.float64)
    o32, r32, g32 = _losses_and_grads(spec, torch.float32)

    def worst(pairs):
        floor = 1e-9 * max(b.norm().item() for _, b in pairs)
        return max((a - b).norm().item() / max(b.norm().item(), floor, 1e-300) for a, b in pairs)

    return (abs(o64 - r64) / abs(r64), worst(g64), abs(o32 - r32) / abs(r32), worst(g32),
            worst([(b32, b64) for (_, b32), (_, b64) in zip(g32, g64)]),
            worst([(a32, b64) for (a32, _), (_, b64) in zip(g32, g64)]))


# ---------------------------------------------------------------------------- timing
def count_flops(step, X, Y):
    """Matrix-product FLOPs of one step (forward and backward), counted at the dispatcher with
    torch's own formulas (``FlopCounterMode`` itself installs module hooks that break
    ``autograd.grad`` on leaves, so only its registry is used)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    onednn = {torch.ops.mkldnn._linear_pointwise.default, torch.ops.mkldnn._linear_pointwise.binary}

    class Counter(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if func in onednn:  # oneDNN's linear (src.fast.gemm): X [M, K] @ W [N, K]ᵀ
                Counter.total += 2 * out.numel() * args[0].shape[-1]
                return out
            f = flop_registry.get(func._overloadpacket)
            if f is not None:
                Counter.total += f(*args, **kwargs, out_val=out)
            return out

    with Counter():
        step(X, Y)
    return Counter.total


def time_steps(step, data):
    """(CPU seconds, wall seconds) per step."""
    c0, t0 = time.process_time(), time.perf_counter()
    for X, Y in data:
        step(X, Y)
    return (time.process_time() - c0) / len(data), (time.perf_counter() - t0) / len(data)


def _torch_mm(step):
    """``step`` with every product of ours on ``torch.mm`` (``src.fast.gemm`` set to "torch")."""
    def run(X, Y):
        with gemm.use_cpu_matmul("torch"):
            return step(X, Y)
    return run


def bench(spec, reps, min_time, ours_factory=None, torch_mm=False):
    """Median CPU and wall seconds per step of the reference and of ours (alternating rounds),
    FLOPs per step and steps per round; with ``torch_mm`` also ours with all products on ``torch.mm`` (a third trainer from the same
    weights, in the same rounds)."""
    c = spec["cfg"]
    D, Dc, R, Rc = make_nets(spec)
    ours = (ours_factory or W2GN)(D, Dc, c)
    ref = RefTrainer(R, Rc, c)
    steps = {"ref": ref.step, "ours": ours.step}
    if torch_mm:
        steps["ours_torch_mm"] = _torch_mm(W2GN(*make_nets(spec)[:2], c).step)
    data = batches(spec, 4)
    for _ in range(2):  # warm-up (allocator)
        for step in steps.values():
            time_steps(step, data)
    per = time_steps(ref.step, data)[0]
    n = max(2, min(64, int(min_time / max(per, 1e-6))))
    data = batches(spec, n, seed=2)
    times = {k: [] for k in steps}
    for _ in range(reps):  # alternate
        for k, step in steps.items():
            times[k].append(time_steps(step, data))
    flops_ref = count_flops(ref.step, *data[0])
    flops_ours = count_flops(ours.step, *data[0])
    med = lambda k, i: statistics.median(t[i] for t in times[k])  # noqa: E731
    out = dict(cpu_ref=med("ref", 0), cpu_ours=med("ours", 0), wall_ref=med("ref", 1), wall_ours=med("ours", 1),
               flops_ref=flops_ref, flops_ours=flops_ours, n=n)
    if torch_mm:
        out.update(cpu_ours_torch_mm=med("ours_torch_mm", 0), wall_ours_torch_mm=med("ours_torch_mm", 1))
    return out


def matmul_peak(n: int = 1024, seconds: float = 0.5) -> dict:
    """GFLOP/s of one large float32 product ``[n, n] @ [n, n]`` on each library ours can use: the
    machine's practical limit, printed beside the steps' FLOP/s."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    out = {}
    for name in ("torch", "onednn") if gemm.cpu_matmul() == "onednn" else ("torch",):
        with gemm.use_cpu_matmul(name):
            gemm.mm(a, b)
            reps, t0 = 0, time.process_time()
            while time.process_time() - t0 < seconds:
                gemm.mm(a, b)
                reps += 1
            out["torch.mm" if name == "torch" else "onednn"] = round(2 * n ** 3 * reps / (time.process_time() - t0) / 1e9, 1)
    return out


def cpu_name() -> str:
    """The CPU model, with its family number where the name alone says little ("AMD EPYC")."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    except OSError:
        return platform.processor() or platform.machine()
    return f"{info.get('model name', platform.machine())} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--dims", type=int, nargs="*", default=[2, 16, 64, 256, 1024])
    ap.add_argument("--no-toy", action="store_true")
    ap.add_argument("--reps", type=int, default=7, help="alternating timing rounds (median)")
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per timing round")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--cpu-matmul", choices=("auto", "torch"), default="auto",
                    help="library of ours' large CPU products (src.fast.gemm.set_cpu_matmul; default: oneDNN where usable)")
    ap.add_argument("--out", type=Path, default=None,
                    help="write the table as JSON here (default: results/step_speed.json when all configs run)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    gemm.set_cpu_matmul(args.cpu_matmul)
    torch_mm = gemm.cpu_matmul() == "onednn"  # then also time ours on torch.mm, to show both gains
    specs = configs(args.dims)
    if args.no_toy:
        specs = specs[:-1]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; ours' large float32 products on "
          f"{gemm.cpu_matmul()} (src.fast.gemm)")
    ok = True
    for spec in specs:
        l64, g64, l32, g32, noise, ours_noise = check(spec)
        good = l64 <= 1e-5 and g64 <= 1e-5 and l32 <= 1e-5 and ours_noise <= 10 * noise + 1e-6
        ok &= good
        print(f"check {spec['name']:>14}: ours vs reference, relative difference of loss {l64:.1e} / grads {g64:.1e}"
              f" (float64); loss {l32:.1e} / grads {g32:.1e} (float32); float32 grad error vs float64: ours"
              f" {ours_noise:.1e}, the reference's {noise:.1e}  {'OK' if good else 'MISMATCH'}")
    if not ok:
        raise SystemExit("ours and the reference pattern disagree")
    if args.check_only:
        return
    peak = matmul_peak()
    print("machine limit, one [1024, 1024] @ [1024, 1024] float32 product: "
          + ", ".join(f"{k} {v} GFLOP/s" for k, v in peak.items()))
    head = (f"{'config':>14} | {'ref ms':>8} | {'ours ms':>8} | {'ratio':>5} | {'wall ratio':>10} | {'ref GFLOP':>9} |"
            f" {'ours GFLOP':>10} | {'ref GFLOP/s':>11} | {'ours GFLOP/s':>12}"
            + (f" | {'ours torch.mm ms':>16} | {'ratio':>5}" if torch_mm else ""))
    print("ms = CPU time per step (median of alternating rounds); wall ratio = the same from the wall clock"
          + ("; ours torch.mm = ours with every product on torch.mm (MKL), in the same rounds" if torch_mm else ""))
    print(head)
    print("-" * len(head))
    rows = []
    for spec in specs:
        r = bench(spec, args.reps, args.min_time, torch_mm=torch_mm)
        rows.append({"config": spec["name"], "ref_ms": round(r["cpu_ref"] * 1e3, 2), "ours_ms": round(r["cpu_ours"] * 1e3, 2),
                     "ratio": round(r["cpu_ref"] / r["cpu_ours"], 2), "wall_ratio": round(r["wall_ref"] / r["wall_ours"], 2),
                     "ref_gflop": round(r["flops_ref"] / 1e9, 3), "ours_gflop": round(r["flops_ours"] / 1e9, 3)})
        extra = ""
        if torch_mm:
            rows[-1].update(ours_torch_mm_ms=round(r["cpu_ours_torch_mm"] * 1e3, 2),
                            ratio_torch_mm=round(r["cpu_ref"] / r["cpu_ours_torch_mm"], 2))
            extra = f" | {r['cpu_ours_torch_mm'] * 1e3:16.2f} | {r['cpu_ref'] / r['cpu_ours_torch_mm']:5.2f}"
        print(f"{spec['name']:>14} | {r['cpu_ref'] * 1e3:8.2f} | {r['cpu_ours'] * 1e3:8.2f} | "
              f"{r['cpu_ref'] / r['cpu_ours']:5.2f} | {r['wall_ref'] / r['wall_ours']:10.2f} | "
              f"{r['flops_ref'] / 1e9:9.3f} | {r['flops_ours'] / 1e9:10.3f} | {r['flops_ref'] / r['cpu_ref'] / 1e9:11.1f} | "
              f"{r['flops_ours'] / r['cpu_ours'] / 1e9:12.1f}{extra}", flush=True)
    out = args.out
    if out is None and args.dims == [2, 16, 64, 256, 1024] and not args.no_toy:
        from src.utils import results_dir
        out = results_dir() / "step_speed.json"
    if out is not None:
        record = {"experiment": "step_speed", "torch": torch.__version__, "python": platform.python_version(),
                  "threads": torch.get_num_threads(), "cpu": cpu_name(),
                  "cpu_capability": torch.backends.cpu.get_cpu_capability(), "ours_cpu_matmul": gemm.cpu_matmul(),
                  "reps": args.reps, "unit": "CPU ms per step (median of alternating rounds)",
                  "matmul_peak_gflops": peak, "rows": rows}
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps(record, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
