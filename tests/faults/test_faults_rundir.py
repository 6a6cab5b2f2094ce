"""Fault injection, saved runs: a damaged copy of every run-directory file. `report` (and, for
samples.csv, which only the gate reads, `compare`) must print one line naming the file and the
key, exit 2, and leave the directory as it was."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from faults import cli, one_line

FILES = ["config.yaml", "manifest.json", "events.parquet", "timings.csv", "samples.csv", "breakdown.csv",
         "checks.csv"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_utf8(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:40] + b"\xff\xfe\xe9" + path.read_bytes()[40:])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _missing(path: Path) -> None:
    path.unlink()


GENERIC = {"missing": _missing, "empty": _empty, "truncated": _truncate, "not_utf8": _not_utf8}


def _csv_edit(fn):
    def damage(path: Path) -> None:
        frame = pd.read_csv(path)
        fn(frame).to_csv(path, index=False)
    return damage


def _manifest_edit(fn):
    def damage(path: Path) -> None:
        data = json.loads(path.read_text())
        fn(data)
        path.write_text(json.dumps(data))
    return damage


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


SPECIFIC = {
    "config.yaml": {"a_list": (lambda p: p.write_text("- 1\n- 2\n"), "(top level)"),
                    "edited": (lambda p: p.write_text(p.read_text().replace("seed: 0", "seed: 1")), "config_hash")},
    "manifest.json": {
        "just_schema": (lambda p: p.write_text('{"schema": 1}'), "required field is missing"),
        "a_list": (lambda p: p.write_text("[1, 2]"), "not an object"),
        "other_schema": (_manifest_edit(_set("schema", 2)), "re-run it with this version"),
        "status_type": (_manifest_edit(_set("status", 5)), "status"),
        "unknown_status": (_manifest_edit(_set("status", "great")), "status"),
        "workloads_text": (_manifest_edit(_set("workloads", "x")), "workloads"),
        "workload_status": (_manifest_edit(lambda d: d["workloads"][0].__setitem__("status", None)),
                            "workloads[0].status"),
        "seed_text": (_manifest_edit(_set("seed", "0")), "seed"),
        "fingerprint_list": (_manifest_edit(_set("fingerprint", [])), "fingerprint"),
    },
    "events.parquet": {"wrong_columns": (lambda p: pd.DataFrame({"a": [1]}).to_parquet(p), "missing column"),
                       "text_times": (lambda p: pd.read_parquet(p).assign(self_cpu_us="x").to_parquet(p),
                                      "self_cpu_us")},
    "timings.csv": {"no_wall": (_csv_edit(lambda f: f.drop(columns=["wall_s"])), "wall_s"),
                    "text_wall": (_csv_edit(lambda f: f.assign(wall_s="fast")), "wall_s"),
                    "float_sample": (_csv_edit(lambda f: f.assign(sample=0.5)), "sample")},
    "samples.csv": {"no_time": (_csv_edit(lambda f: f.drop(columns=["time_s"])), "time_s"),
                    "inf_time": (_csv_edit(lambda f: f.assign(time_s=float("inf"))), "time_s")},
    "breakdown.csv": {"text_share": (_csv_edit(lambda f: f.assign(share="most")), "share"),
                      "empty_time": (_csv_edit(lambda f: f.assign(time_s=None)), "time_s")},
    "checks.csv": {"bool_text": (_csv_edit(lambda f: f.assign(clamped="maybe")), "clamped"),
                   "no_addup": (_csv_edit(lambda f: f.drop(columns=["addup_error_s"])), "addup_error_s")},
}

CASES = [(f, name, fn, f) for f in FILES for name, fn in GENERIC.items()
         if not (f == "config.yaml" and name == "empty")]  # an empty config.yaml is a valid empty mapping
CASES += [(f, name, fn, needle) for f, cases in SPECIFIC.items() for name, (fn, needle) in cases.items()]


def _command(damaged: str, copy: Path, original: Path) -> list[str]:
    if damaged == "samples.csv":
        return ["compare", str(original), str(copy)]  # report never reads samples.csv
    if damaged in ("events.parquet", "config.yaml"):
        return ["report", str(copy), "--reclassify"]
    return ["report", str(copy)]


@pytest.mark.parametrize("damaged,how,damage,needle", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_damaged_file_is_one_line(capsys, demo_run, tmp_path, damaged, how, damage, needle):
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    damage(copy / damaged)
    # content and modification time: a rewrite with the same bytes is a rewrite too (a re-derived
    # table can differ in its last digit only, as on torch 2.3)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in copy.iterdir() if p.is_file()}
    code, _, err = cli(capsys, *_command(damaged, copy, demo_run))
    line = one_line(code, err, damaged, needle)
    assert "re-run" in line or "re-copy" in line or "did the run finish" in line, line
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in copy.iterdir() if p.is_file()}
    assert after == before, "a failed report rewrote files"


def test_the_undamaged_copy_reports(capsys, demo_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    assert cli(capsys, "report", str(copy), "--reclassify")[0] == 0
    assert cli(capsys, "compare", str(demo_run), str(copy))[0] in (0, 1, 3)   # 3: 2 samples may be too noisy to decide
