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
    return s.replace("-", "−") if x < 0 else s


def toy_table(results: dict) -> str:
    rows = ["| target | steps | λ | energy dist. forward | inverse | modes covered | mass in modes |",
            "|---|---|---|---|---|---|---|"]
    for key, m in results["metrics"].items():
        modes = f"{m['modes_covered']}/{m['n_modes']}" if "modes_covered" in m else "–"
        mass = f"{m['mass_in_modes']:.2f}" if "mass_in_modes" in m else "–"
        rows.append(f"| {TOY_NAMES.get(key, key)} | {m['iterations']} | {m.get('lambda_cycle', 1.0):g} | "
                    f"{_num(m['energy_forward'])} | {_num(m['energy_inverse'])} | {modes} | {mass} |")
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
    rows = [head + " ref GFLOP | ours GFLOP |", "|---" * (head.count("|") + 1) + "|"]
    for r in results["rows"]:
        name = SPEED_NAMES.get(r["config"], r["config"].replace("gauss", "Gaussians") + ", batch 256")
        mm = f" {r['ours_torch_mm_ms']:.2f} | {r['ratio_torch_mm']:.2f} |" if both else ""
        rows.append(f"| {name} | {r['ref_ms']:.2f} | {r['ours_ms']:.2f} | {r['ratio']:.2f} |{mm} "
                    f"{r['ref_gflop']:.3f} | {r['ours_gflop']:.3f} |")
    return "\n".join(rows)


def tables(root: Path = ROOT) -> dict[str, str]:
    out = {}
    for name, fn in (("toy", toy_table), ("gaussians", gaussians_table), ("step_speed", speed_table)):
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
            print(f"<!-- from results/{name}.json -->\n{table}\n")
    if missing:
        print(f"README.md lacks the current table(s) of: {', '.join(missing)} "
              "(python scripts/readme_tables.py prints them)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
