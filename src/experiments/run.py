"""Train an experiment's W2GN runs from the command line, into the checkpoint folder its notebook reads.

    python -m src.experiments.run gaussians --profile cpu
    torchrun --standalone --nproc_per_node=4 -m src.experiments.run benchmark --profile paper   # data-parallel
    W2GN_CHECKPOINT_DIR=models/checkpoints W2GN_PROFILE=cpu make notebooks NOTEBOOKS=notebooks/W2GN_gaussians_high_dimensions.ipynb

Every run (identity pretraining and W2GN training, each dimension of an experiment) is
checkpointed into ``--checkpoint-dir`` (default: env ``W2GN_CHECKPOINT_DIR``, else
``models/checkpoints``); a run that is cut resumes when the command is given again. The notebook,
run afterwards with ``W2GN_CHECKPOINT_DIR`` pointing at the same folder (the ``paper`` profile
looks in ``models/checkpoints`` by default), finds the finished runs, loads them and only
evaluates; its first cell prints the folder and how many of its files are there.

Under ``torchrun`` the W2GN runs train data-parallel (:mod:`src.distributed`): ``batch_size`` stays
the global batch, split over the processes, and rank 0 writes the checkpoints. Experiments:
``gaussians`` (every D of the profile), ``benchmark`` (every D) and ``latent_ot`` (the latent-space
W2GN; the autoencoder is trained first if its file is missing).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from ..configs import DEFAULT_CHECKPOINT_DIR, PROFILES, apply_overrides, get_config
from ..utils import display_path, get_device

EXPERIMENTS = ("gaussians", "benchmark", "latent_ot")


def _gaussians(cfg, device):
    from .gaussians import run_gaussian_dim

    for dim in cfg.dims:
        r = run_gaussian_dim(dim, cfg, device)
        yield f"D = {dim}: forward L2-UVP {r.l2_uvp:.3f} %"


def _benchmark(cfg, device):
    from ..benchmark import Mix3ToMix10, locate_root
    from .benchmark import train_w2gn_on_benchmark

    root = locate_root(cfg.root)
    for dim in cfg.dims:
        bench = Mix3ToMix10(dim, root=root, device=device, estimate_size=cfg.estimate_size, seed=cfg.seed)
        out = train_w2gn_on_benchmark(bench, cfg, device)
        yield f"D = {dim}: forward L2-UVP {out['final']['l2_uvp_fwd']:.2f} %"


def _latent_ot(cfg, device):
    from ..autoencoders import encode
    from ..datasets import load_latent_ot_images
    from ..distributions import StandardNormalSampler, TensorDatasetSampler
    from ..w2gn import W2GN
    from .autoencoder import AEConfig, get_autoencoder
    from .latent_ot import make_latent_icnns

    ae_cfg = get_config(AEConfig, cfg.profile)
    images, _ = load_latent_ot_images(ae_cfg.dataset, "train", ae_cfg.image_size, cfg.n_encode)
    ae, _ = get_autoencoder(ae_cfg, device, images=images)
    codes = encode(ae, images, device=device, num_workers=ae_cfg.num_workers)
    dim = codes.shape[1]
    D, D_conj, _ = make_latent_icnns(cfg, dim, device)
    P = TensorDatasetSampler(codes, device=device, seed=cfg.data_seed)          # as the notebook draws them
    Q = StandardNormalSampler(dim, device=device, seed=cfg.data_seed + 1)
    model = W2GN(D, D_conj, cfg.w2gn_config("w2gn")).fit(P, Q)
    yield f"latent W2GN: {model.iteration} steps, W2² estimate {model.history['w2'][-1]:.2f}"


def _config(experiment: str, profile: str, overrides):
    if experiment == "gaussians":
        from .gaussians import GaussiansConfig as cls
    elif experiment == "benchmark":
        from .benchmark import BenchmarkConfig as cls
    else:
        from .latent_ot import LatentOTConfig as cls
    return apply_overrides(get_config(cls, profile), overrides)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m src.experiments.run", description=__doc__.split("\n")[0])
    ap.add_argument("experiment", choices=EXPERIMENTS)
    ap.add_argument("--profile", choices=PROFILES, default=None, help="default: env W2GN_PROFILE, else by device")
    ap.add_argument("--overrides", default=None, help="JSON object of config changes (as env W2GN_OVERRIDES)")
    ap.add_argument("--checkpoint-dir", default=None,
                    help="where the runs are checkpointed (default: env W2GN_CHECKPOINT_DIR or models/checkpoints)")
    args = ap.parse_args(argv)
    try:
        overrides = json.loads(args.overrides) if args.overrides else None
    except json.JSONDecodeError as e:
        print(f"error: --overrides is not a JSON object ({e})", file=sys.stderr)
        return 2
    folder = os.path.abspath(os.path.expanduser(
        args.checkpoint_dir or os.environ.get("W2GN_CHECKPOINT_DIR") or DEFAULT_CHECKPOINT_DIR))
    os.environ["W2GN_CHECKPOINT_DIR"] = folder       # get_config checkpoints every profile into it
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cfg = _config(args.experiment, args.profile, overrides)
    if world > 1:
        cfg = cfg.replace(w2gn__distributed=True)
    device = get_device()
    if world > 1 and device.type == "cuda":
        import torch

        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if world > 1:   # before any pretraining: rank 0 alone writes the checkpoints
        from .. import distributed

        distributed.setup(True, device)
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        print(f"{args.experiment} ({cfg.profile} profile) on {world} process(es), device {device}; "
              f"checkpoints in {display_path(folder)}", flush=True)
    for line in {"gaussians": _gaussians, "benchmark": _benchmark, "latent_ot": _latent_ot}[args.experiment](cfg, device):
        if rank == 0:
            print(line, flush=True)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()   # every rank leaves cleanly
    if rank == 0:
        print(f"done: run the notebook with W2GN_CHECKPOINT_DIR={display_path(folder)} (and the same profile"
              + (" and W2GN_OVERRIDES" if overrides else "") + ") to evaluate these runs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
