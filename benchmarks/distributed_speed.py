"""Samples per second of data-parallel W2GN training (src.distributed, gloo on CPU) against one process.

    python benchmarks/distributed_speed.py                    # 1 and 2 processes, 1 thread each
    python benchmarks/distributed_speed.py --procs 1 2 4 --dim 64 --batch 16384

Each configuration runs `--steps` W2GN steps at the global batch `--batch` (split over the processes)
after `--warmup` untimed ones, under `torch.distributed.run --standalone`; the slowest rank's time
counts. Writes results/distributed_speed.json (or --out) with the CPU model beside the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from src.utils import atomic_write_text, display_path, results_dir  # noqa: E402

WORKER = textwrap.dedent("""
    import json, sys, time, torch
    torch.set_num_threads(1)
    from src.distributions import NormalSampler, StandardNormalSampler
    from src.icnn import DenseICNN
    from src.w2gn import W2GN, W2GNConfig
    dim, batch, steps, warmup, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    torch.manual_seed(0)
    D, C = DenseICNN(dim, [max(128, dim)] * 2 + [max(64, dim)], dropout=0.0), DenseICNN(dim, [max(128, dim)] * 2 + [max(64, dim)], dropout=0.0)
    C.load_state_dict(D.state_dict())
    X, Y = StandardNormalSampler(dim, seed=1), NormalSampler(torch.ones(dim), 2 * torch.eye(dim), seed=2)
    model = W2GN(D, C, W2GNConfig(batch_size=batch, iterations=warmup, progress=False, log_every=10**9,
                                  distributed=True))
    model.fit(X, Y)
    torch.distributed.barrier()
    start = time.perf_counter()
    model.fit(X, Y, iterations=warmup + steps)
    torch.distributed.barrier()
    elapsed = time.perf_counter() - start
    times = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(times, elapsed)
    if torch.distributed.get_rank() == 0:
        json.dump({"seconds": max(times)}, open(out, "w"))
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
""")


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(procs: int, dim: int, batch: int, steps: int, warmup: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        worker, out = Path(tmp) / "worker.py", Path(tmp) / "out.json"
        worker.write_text(WORKER)
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
               str(worker), str(dim), str(batch), str(steps), str(warmup), str(out)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{procs} process(es) failed:\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())["seconds"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8192, help="the global batch")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = []
    for n in args.procs:
        seconds = measure(n, args.dim, args.batch, args.steps, args.warmup)
        rows.append({"processes": n, "seconds": round(seconds, 3),
                     "samples_per_s": round(args.steps * args.batch / seconds)})
        print(f"{n} process(es): {args.steps} steps of {args.batch} samples in {seconds:.2f} s -> "
              f"{rows[-1]['samples_per_s']} samples/s", flush=True)
    base = rows[0]["samples_per_s"]
    for r in rows:
        r["speedup"] = round(r["samples_per_s"] / base, 2)
    record = {"cpu": cpu_model(), "cores": os.cpu_count(), "threads_per_process": 1, "dim": args.dim,
              "global_batch": args.batch, "steps": args.steps, "backend": "gloo", "rows": rows}
    out = args.out or results_dir() / "distributed_speed.json"
    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {display_path(out)} (CPU: {record['cpu']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
