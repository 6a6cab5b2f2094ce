"""Writes the measured part of a docs/results page from run and sweep directories.

    python scripts/results_page.py docs/results/PAGE.md RUN_OR_SWEEP_DIR ...

Between the page's ``<!-- generated:start -->`` and ``<!-- generated:end -->`` lines it puts, for
each run directory, the Table III rows, the shares and the end-to-end section of its table.md and
its heatmap (heatmap.png of a run made with `--png`, copied beside the page), and for each sweep directory the fitted exponents of the
neural and the symbolic side (scaling.csv rows of axis ``kind``) with a verdict on the ratio. The
prose around the markers is the page's own; rerun the command after new measurements.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

WIDE = 0.5   # an exponent interval wider than this cannot call a ratio stable
START, END = "<!-- generated:start -->", "<!-- generated:end -->"
SECTIONS = ("## Runtime by category", "## Share of component runtime", "## End to end")


def run_sections(run: Path, images: Path) -> list[str]:
    text = (run / "table.md").read_text().split("\n## ")
    keep = ["## " + s if not s.startswith("#") else s for s in text[1:]]
    out = [f"### {run.name}", "", f"From `{run.name}/table.md`."]
    for part in keep:
        if part.startswith(SECTIONS):
            out += ["", "#" + part.strip()]
    if (run / "heatmap.png").is_file():
        images.mkdir(parents=True, exist_ok=True)
        target = images / f"{run.name.rsplit('-', 2)[0]}-heatmap.png"
        shutil.copyfile(run / "heatmap.png", target)
        out += ["", f"![category heatmap of {run.name}]({images.name}/{target.name})"]
    return out + [""]


def sweep_section(sweep: Path) -> list[str]:
    table = pd.read_csv(sweep / "scaling.csv")
    sides = table[table["axis"] == "kind"]
    out = [f"### {sweep.name}", "", "| Workload | Parameter | Points | b neural [95%] | b symbolic [95%] | Ratio |",
           "|---|---|---|---|---|---|"]
    for (workload, parameter), grp in sides.groupby(["workload", "parameter"], sort=False):
        row = {r["category"]: r for _, r in grp.iterrows()}
        if not {"neural", "symbolic"} <= set(row):
            continue
        n, s = row["neural"], row["symbolic"]
        overlap = max(n["b_lo"], s["b_lo"]) <= min(n["b_hi"], s["b_hi"])
        wide = max(n["b_hi"] - n["b_lo"], s["b_hi"] - s["b_lo"]) > WIDE
        verdict = ("symbolic grows faster" if s["b"] > n["b"] else "neural grows faster") if not overlap else (
            f"inconclusive (an interval is wider than {WIDE:g})" if wide else "stable (intervals overlap)")
        out.append(f"| {workload} | {parameter} ({n['x']}) | {n['n_points']} | {n['b']:.2f} [{n['b_lo']:.2f}, "
                   f"{n['b_hi']:.2f}] | {s['b']:.2f} [{s['b_lo']:.2f}, {s['b_hi']:.2f}] | {verdict} |")
    return out + [""]


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    page = Path(argv[0])
    text = page.read_text()
    if START not in text or END not in text:
        print(f"{page}: no {START} ... {END} markers; add them where the measurements go", file=sys.stderr)
        return 2
    body: list[str] = []
    for d in map(Path, argv[1:]):
        body += sweep_section(d) if (d / "scaling.csv").is_file() else run_sections(d, page.parent / "img")
    head, rest = text.split(START, 1)
    page.write_text(head + START + "\n" + "\n".join(body) + END + rest.split(END, 1)[1])
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
