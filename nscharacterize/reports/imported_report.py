"""table.md's sections for imported traces: what could not be read, ranks and communication."""
from __future__ import annotations

import pandas as pd

from .format import fmt_time, markdown_table


def imported_sections(ranks: pd.DataFrame, jobs: pd.DataFrame, manifest: dict) -> list[str]:
    """Notes per imported trace (never silence about what was not read), then, for distributed
    traces, the per-rank communication table and the cross-rank summary (``ranks``, ``jobs``:
    ``Views.ranks`` and ``Views.jobs``). Empty for live runs."""
    out: list[str] = []
    if not ranks.empty:
        out += ["## Ranks: communication and verdict", "",
                "One workload per rank (ranks run concurrently: nothing is added across them). Communication = "
                "time communication kernels run (NCCL/RCCL collectives, custom all-reduce, expert-parallel "
                "all-to-all; on a CPU rank: gloo collectives on the host); overlap = the part of "
                "it during which a compute kernel runs too, as HTA reports it; compute = GPU busy outside "
                "communication kernels. Means per step.", "",
                markdown_table(["Job", "Rank", "Component", "Steps", "Step", "GPU busy", "Communication",
                                "Overlap with compute", "Compute", "Verdict"],
                               [[r.job, str(r.rank), r.component, str(r.samples), fmt_time(r.step_s),
                                 fmt_time(r.gpu_busy_s), fmt_time(r.comm_s),
                                 "-" if r.comm_overlap_pct != r.comm_overlap_pct else f"{r.comm_overlap_pct:.0f}%",
                                 fmt_time(r.compute_s), r.verdict] for r in ranks.itertuples()]), ""]
        if not jobs.empty:
            out += ["## Across ranks", "",
                    "A job's step lasts as long as its slowest rank. The straggler is the rank with the most "
                    "compute: the others wait for it inside their collectives.", "",
                    markdown_table(["Job", "Ranks", "Step (slowest rank)", "Compute min", "median", "max",
                                    "Straggler", "Above median"],
                                   [[j.job, str(j.ranks), fmt_time(j.step_s), fmt_time(j.compute_min_s),
                                     fmt_time(j.compute_median_s), fmt_time(j.compute_max_s), f"rank {j.straggler}",
                                     f"{j.straggler_excess_pct:.1f}%"] for j in jobs.itertuples()]), ""]
    notes = [(t["workload"], t["component"], n) for t in manifest.get("imported") or [] for n in t.get("notes") or []]
    if notes:
        out += ["## Imported traces: what was read", "",
                *(f"- **{w} / {c}**: {n}" for w, c, n in notes), ""]
    return out
