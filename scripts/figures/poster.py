"""The one-page poster (poster/W2GN_poster.{svg,png}): the method, then every experiment with
ours beside the paper's numbers, each panel naming its profile, data and results file."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from .applications import DA_ROWS, LATENT_ROWS
from .diagram import draw_icnn
from .inputs import Inputs, section, steps_by_dim
from .style import fmt_uvp, show_image, wrap
from .uvp import plot_benchmark, plot_w2gn_dims


def poster_tables(inp: Inputs) -> dict[str, dict]:
    """Every number the poster prints, as ``{table: {"columns": [...], "rows": [[label, cell…]…], "source": …}}``."""
    b = inp.get("gaussians_baselines", "metrics")
    paper = inp.get("gaussians_baselines", "metrics", "paper_l2_uvp")
    dims = list(next(iter(b["l2_uvp"].values())))
    pcol = {str(d): i for i, d in enumerate(paper["dims"])}
    rows = [[method] + [f"{vals[d]:.2f}\n({paper[method][pcol[d]]})" for d in dims]
            for method, vals in b["l2_uvp"].items()]
    tables = {"gaussians_baselines": {"columns": ["D"] + dims, "rows": rows, "source": "gaussians_baselines"}}

    g = inp.get("gaussians", "metrics")
    gp = inp.get("gaussians", "paper_w2gn_l2_uvp")
    gd = list(g["l2_uvp"])
    tables["gaussians"] = {"columns": ["D"] + gd, "source": "gaussians", "rows": [
        ["ours, fwd"] + [fmt_uvp(g["l2_uvp"][d]) for d in gd],
        ["ours, inv"] + [fmt_uvp(g["l2_uvp_inverse"][d]) for d in gd],
        ["paper"] + [str(gp.get(d, "–")) for d in gd]]}

    bm = inp.get("benchmark", "metrics")
    pub = inp.get("benchmark", "published", "w2gn_l2_uvp_fwd")
    bd = list(bm["l2_uvp_fwd"])
    tables["benchmark"] = {"columns": ["D"] + bd, "source": "benchmark", "rows": [
        ["ours, fwd"] + [fmt_uvp(bm["l2_uvp_fwd"][d]) for d in bd],
        ["published"] + [f"{pub[d]:.1f}" if d in pub else "–" for d in bd],
        ["linear (ours)"] + [f"{bm['linear_l2_uvp'][d]:.1f}" for d in bd]]}

    lm = inp.get("latent_ot", "metrics")
    lp = inp.get("latent_ot", "metrics", "paper_fid")
    tables["latent_ot"] = {"columns": ["FID", "ours", "paper"], "source": "latent_ot", "rows": [
        [name.replace("\n", " "), f"{lm['fid_' + k]:.1f}", f"{lp[k]:.2f}"] for k, name in LATENT_ROWS]}

    dm = inp.get("domain_adaptation", "metrics")
    dp = inp.get("domain_adaptation", "paper")
    tables["domain_adaptation"] = {"columns": ["1-NN accuracy", "ours", "paper"], "source": "domain_adaptation",
                                   "rows": [[name.replace("\n", " "), f"{dm[k]:.3f}", f"{dp[k]:.3f}"]
                                            for k, name in DA_ROWS]}
    return tables


def draw_table(ax, table: dict, fontsize: float = 9, col0: float = 0.22, scale_y: float = 1.35, bold_row=None):
    ax.set_axis_off()
    ncols = len(table["columns"])
    widths = [col0] + [(1 - col0) / (ncols - 1)] * (ncols - 1)
    t = ax.table(cellText=table["rows"], colLabels=table["columns"], colWidths=widths, loc="upper center",
                 cellLoc="center")
    t.auto_set_font_size(False)
    t.set_fontsize(fontsize)
    t.scale(1, scale_y)
    for (r, c), cell in t.get_celld().items():
        cell.set_edgecolor("0.75")
        cell.set_linewidth(0.6)
        if r == 0:
            cell.set_facecolor("#e6ebf2")
            cell.get_text().set_weight("bold")
        if bold_row is not None and r - 1 == bold_row:
            cell.get_text().set_weight("bold")
    return t


METHOD_TEXT = [
    ("Problem", [
        r"Given samples of P and Q on $\mathbb{R}^D$, find the optimal transport map of the quadratic cost,",
        r"$T^{*}=\mathrm{argmin}_{\,T_{\#}P=Q}\ \mathbb{E}_{P}\,\|x-T(x)\|^{2}$, and its inverse: a generative",
        "model that is a map in both directions (P → Q and Q → P), not only a sampler.",
    ]),
    ("Cycle monotone maps, Brenier / McCann", [
        r"T is cycle monotone if $\Sigma_{k=1}^{n}\,\langle T(x_k),\,x_k-x_{k+1}\rangle\geq 0$ for every cycle"
        " ($x_{n+1}=x_1$);",
        "the cycle monotone maps are the (sub)gradients of convex functions (Rockafellar).",
        r"Brenier / McCann: the optimal map is $T^{*}=\nabla\psi^{*}$, the unique gradient of a convex function",
        r"pushing P to Q; its inverse is $\nabla\overline{\psi^{*}}$, with the convex conjugate"
        r" $\overline{\psi}(y)=\max_x\,\langle x,y\rangle-\psi(x)$.",
    ]),
    ("ICNN potentials", [
        "ψ and its conjugate are input convex neural networks: ψ_θ (forward map ∇ψ_θ) and ψ_ω (inverse",
        "map ∇ψ_ω) — gradients of convex functions, hence cycle monotone and invertible by construction.",
    ]),
]

DUAL_TEXT = [
    r"Dual form:  $\frac{1}{2}W_2^2(P,Q)=\frac{1}{2}\mathbb{E}_P\|x\|^2+\frac{1}{2}\mathbb{E}_Q\|y\|^2"
    r"-\min_{\psi\ \mathrm{convex}}\,[\,\mathbb{E}_P\,\psi(x)+\mathbb{E}_Q\,\overline{\psi}(y)\,]$",
    r"The conjugate is taken at $x=\nabla\psi_\omega(y)$ — no inner solver (MM-1), no minimax (MM-2):",
    r"$\mathrm{Corr}(\theta,\omega;\lambda)=\mathbb{E}_P\,\psi_\theta(x)+\mathbb{E}_Q\,[\langle\nabla\psi_"
    r"\omega(y),y\rangle-\psi_\theta(\nabla\psi_\omega(y))]+\lambda\,R_Y(\theta,\omega)$",
    r"cycle regulariser  $R_Y=\mathbb{E}_Q\,\|\nabla\psi_\theta(\nabla\psi_\omega(y))-y\|^2$"
    r"   (or with $R_X=\mathbb{E}_P\,\|\nabla\psi_\omega(\nabla\psi_\theta(x))-x\|^2$),",
    r"zero at the optimum, where $\nabla\psi_\omega=(\nabla\psi_\theta)^{-1}$; minimised over θ and ω with Adam.",
]

GUARANTEE_TEXT = [
    "If the regularised correlation of (ψ_θ, ψ_ω) is within ε of its optimum (ψ_ω strongly convex,",
    "ψ_θ smooth, λ large enough), the squared L2 errors of the inverse map ∇ψ_ω and of the forward",
    "map ∇ψ_θ against the optimal maps are O(ε): a small optimisation gap gives accurate maps both ways.",
]

NOTE = dict(fontsize=9, va="top", color="0.3")


def _heading(fig, x, y, text, size=15):
    fig.text(x, y, text, fontsize=size, weight="bold", color="#1f3b66", va="top")
    return y - 0.03


def _lines(fig, x, y, lines, size=10.5, step=0.0215, **kw):
    for line in lines:
        fig.text(x, y, line, fontsize=size, va="top", **kw)
        y -= step
    return y


def _image_ax(fig, x, y_top, w, img):
    """Image axes of width ``w`` (figure fraction) with its top at ``y_top``; returns its bottom."""
    h = w * fig.get_figwidth() * img.shape[0] / img.shape[1] / fig.get_figheight()
    show_image(fig.add_axes([x, y_top - h, w, h]), img)
    return y_top - h


def _note(fig, x, y, text, width):
    text = wrap(text, width)
    fig.text(x, y, text, **NOTE)
    return y - 0.0165 * (text.count("\n") + 1)


def make_poster(inp: Inputs):
    """The one-page poster (24 × 13.5 in): the method, then each experiment with ours beside the paper's."""
    tables = poster_tables(inp)
    fig = plt.figure(figsize=(24, 13.5))
    fig.add_artist(FancyBboxPatch((0.0, 0.925), 1.0, 0.075, boxstyle="square,pad=0", fc="#1f3b66", ec="none",
                                  transform=fig.transFigure))
    fig.text(0.01, 0.985, "Wasserstein-2 Generative Networks — a reproduction", fontsize=30, color="white",
             weight="bold", va="top")
    fig.text(0.01, 0.942, "Korotin, Egiazarian, Asadulaev, Safin, Burnaev, ICLR 2021.   This project's measured numbers "
             "(committed results/*.json; profile and data named under each panel) beside the paper's.", fontsize=13,
             color="white", va="center")

    # ---- column 1: the method
    x, y = 0.012, 0.905
    for head, lines in METHOD_TEXT:
        y = _lines(fig, x, _heading(fig, x, y, head), lines) - 0.006
    cfg = section(inp.get("toy", "config"), "icnn")
    ax = fig.add_axes([x, y - 0.2, 0.3, 0.2])
    draw_icnn(ax, cfg["hidden"], cfg["rank"], "celu", cfg["strong_convexity"], fontsize=8)
    y -= 0.205
    y = _lines(fig, x, _heading(fig, x, y, "Dual form, regularised correlation"), DUAL_TEXT, step=0.027)
    y = _lines(fig, x, _heading(fig, x, y - 0.004, "Guarantee"), GUARANTEE_TEXT) - 0.006
    y = _heading(fig, x, y, "Run it")
    fig.text(x + 0.003, y - 0.004, "make notebooks   # every notebook (profile paper with CUDA, else cpu)\n"
             "make test        # the test suite (CPU; every notebook in the smoke profile)\n"
             "make figures     # pics/ and this poster, from results/*.json and notebook outputs",
             family="DejaVu Sans Mono", fontsize=10.5, va="top", linespacing=1.4,
             bbox=dict(boxstyle="round,pad=0.5", fc="#f3f3f3", ec="0.7"))

    c2, c3, c4, cw = 0.33, 0.558, 0.786, 0.206
    # ---- column 2: toy, Gaussians
    toy = inp.results("toy")
    y = _heading(fig, c2, 0.905, "Toy: forward and inverse maps")
    y = _image_ax(fig, c2, y, cw, inp.toy_image("8g"))
    y = _image_ax(fig, c2, y - 0.003, cw, inp.toy_image("100g"))
    m = toy["metrics"]["100g"]
    alpha = toy.get("config", {}).get("icnn", {}).get("celu_alpha", 1.0)
    seeds = m.get("seeds", [])
    on_seeds = (f" on each of {len(seeds)} training seeds" if len(seeds) > 1 and
                all(s["modes_covered"] == m["n_modes"] for s in seeds) else "")
    y = _note(fig, c2, y - 0.003, f"100 Gaussians: {m['modes_covered']}/{m['n_modes']} modes covered{on_seeds} after "
              f"{m['iterations']} steps (paper: none dropped after 100k). {toy['profile']} profile"
              + (f", CELU α = {alpha:g} (paper: 1)" if alpha != 1.0 else "") + ", synthetic data; results/toy.json", 62)
    bl = inp.results("gaussians_baselines")
    y = _heading(fig, c2, y - 0.012, f"Gaussians: L2-UVP %, ours ({bl['profile']} profile)")
    ax = fig.add_axes([c2, y - 0.16, cw, 0.16])
    draw_table(ax, tables["gaussians_baselines"], fontsize=9, col0=0.13, scale_y=2.5, bold_row=3)
    y = _note(fig, c2, y - 0.165, f"Each cell: ours ({bl['profile']} profile, {bl['config']['iterations']} steps "
              "per method) above the paper's reported value in brackets (5000 steps). Synthetic Gaussians; "
              "results/gaussians_baselines.json", 62)
    g = inp.results("gaussians")
    y = _heading(fig, c2, y - 0.008, "W2GN by dimension: L2-UVP %", size=12)
    ax = fig.add_axes([c2, y - 0.06, cw, 0.06])
    draw_table(ax, tables["gaussians"], fontsize=8.5, col0=0.15, scale_y=1.3)
    y = _note(fig, c2, y - 0.074, f"{g['profile']} profile, {section(g['config'], 'w2gn')['iterations']} steps per D (paper: 5000), "
              "synthetic Gaussians; results/gaussians.json", 62)
    ax = fig.add_axes([c2 + 0.032, 0.04, cw - 0.034, y - 0.06])
    plot_w2gn_dims(ax, inp, legend_size=8)

    # ---- column 3: benchmark, latent OT, domain adaptation
    br = inp.results("benchmark")
    y = _heading(fig, c3, 0.905, "W2 benchmark Mix3toMix10: L2-UVP %")
    ax = fig.add_axes([c3 + 0.032, y - 0.215, cw - 0.034, 0.205])
    plot_benchmark(ax, inp, legend_size=8)
    y -= 0.25
    ax = fig.add_axes([c3, y - 0.075, cw, 0.075])
    draw_table(ax, tables["benchmark"], fontsize=9, col0=0.22, scale_y=1.35)
    steps, dims = steps_by_dim(br["metrics"]["iterations"])
    y = _note(fig, c3, y - 0.08, f"{br['profile']} profile, {steps} steps at D = {dims} (benchmark: 250k), "
              "final weights; public benchmark checkpoints; results/benchmark.json", 62)

    lr = inp.results("latent_ot")
    y = _heading(fig, c3, y - 0.012, "Latent-space OT: decoded samples, FID")
    yi = _image_ax(fig, c3, y, cw * 0.55, inp.notebook_image("latent_samples"))
    ax = fig.add_axes([c3 + cw * 0.57, y - 0.075, cw * 0.43, 0.075])
    draw_table(ax, tables["latent_ot"], fontsize=8.5, col0=0.46, scale_y=1.45, bold_row=2)
    y = _note(fig, c3, yi - 0.004, f"{lr['profile']} profile: MNIST (offline substitute for CelebA), "
              f"n = {lr['metrics']['n_fid_samples']}, {lr['metrics']['iterations']} steps; paper: CelebA MSE-AE, "
              "200k samples. results/latent_ot.json", 62)

    dr = inp.results("domain_adaptation")
    y = _heading(fig, c3, y - 0.012, "Domain adaptation: 1-NN accuracy")
    ax = fig.add_axes([c3, y - 0.09, cw * 0.5, 0.09])
    draw_table(ax, tables["domain_adaptation"], fontsize=8.5, col0=0.52, scale_y=1.45, bold_row=3)
    _note(fig, c3 + cw * 0.53, y - 0.005, f"{dr['profile']} profile: UCI 8×8 digits → MNIST (offline "
          "substitute for USPS → MNIST); paper: USPS → MNIST. results/domain_adaptation.json", 30)
    _image_ax(fig, c3, y - 0.1, cw, inp.notebook_image("da_pca"))

    # ---- column 4: colour transfer, style transfer
    cr = inp.results("color_transfer")
    cm = cr["metrics"]
    y = _heading(fig, c4, 0.905, "Colour transfer, forward and inverse")
    y = _image_ax(fig, c4, y, cw, inp.notebook_image("color_images"))
    y = _image_ax(fig, c4, y - 0.002, cw, inp.notebook_image("color_clouds", 0))
    y = _image_ax(fig, c4, y - 0.002, cw, inp.notebook_image("color_clouds", 1))
    y = _note(fig, c4, y - 0.003, f"sliced W2 to the palette {cm['sliced_w2_before']:.3f} → "
              f"{cm['sliced_w2_after']:.3f}, inverse map to the source {cm['sliced_w2_inverse_after']:.3f}. "
              f"{cr['profile']} profile, real photos (scikit-learn samples); results/color_transfer.json", 62)
    sr = inp.results("style_transfer")
    sm = sr["metrics"]
    y = _heading(fig, c4, y - 0.012, "Style transfer (unpaired)")
    km = sm.get("known_map")
    style_images = inp.notebook_images("style_grids")
    yi = _image_ax(fig, c4, y, cw * 0.6, style_images[2] if km and len(style_images) > 2 else style_images[0])
    if km:
        style_text = (f"{sr['profile']} profile, OFFLINE SUBSTITUTE with a known optimal map T = ∇φ (φ convex): "
                      f"L2-UVP fwd {km['l2_uvp_forward']:.1f} %, inv {km['l2_uvp_inverse']:.1f} % (identity "
                      f"{km['l2_uvp_identity_forward']:.1f} %, colour-only {km['l2_uvp_colour_baseline_forward']:.1f} %); "
                      f"FID(B, ·) {sm['fid_before']:.1f} → {sm['fid_after']:.1f}; {sm['image_size']} px, "
                      f"{sm['iterations']} steps; results/style_transfer.json")
    else:
        style_text = (f"FID(B, ·) {sm['fid_before']:.1f} → {sm['fid_after']:.1f}. {sr['profile']} profile, OFFLINE "
                      f"SUBSTITUTE domains, {sm['image_size']} px, {sm['iterations']} steps; results/style_transfer.json")
    _note(fig, c4 + cw * 0.62, y - 0.01, style_text, 27)
    _note(fig, c4, yi - 0.015, "Offline substitutes (MNIST, UCI digits, photo crops) stand in where the paper's "
          "data cannot be had offline: compare the ranking of methods with the paper, not absolute numbers. "
          "Every number on this page is generated from results/*.json by scripts/make_figures.py.", 62)
    return fig
