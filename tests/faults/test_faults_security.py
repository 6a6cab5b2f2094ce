"""Fault injection, hostile input that reaches past the tool: git options smuggled in a manifest, the
project's own functions named as workload factories, markup in run-directory data shown on the page,
and writes aimed at what is not a regular file. Each is refused (or made inert) at the layer that
owns the input; the tests check the exit status, the one line, and what is on disk afterwards."""
from __future__ import annotations

import html.parser
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from clirun import write_config
from faults import cli, one_line, run_dirs


def _copy(demo_run: Path, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    copy = where / "run"
    shutil.copytree(demo_run, copy)
    return copy


def _edit_manifest(run: Path, **fields) -> None:
    data = json.loads((run / "manifest.json").read_text())
    data.update(fields)
    (run / "manifest.json").write_text(json.dumps(data))


# ---- git: a manifest's commit is never a git option ------------------------------------------------
def _git_repo(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "GIT_COMMITTER_DATE": "2001-02-03T04:05:06+00:00"}
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, env=env, capture_output=True)
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.mark.parametrize("commit", ["--output={target}", "--output={target}-dirty", "-o{target}",
                                    "HEAD --output={target}"])
def test_history_add_never_passes_a_manifest_commit_to_git_as_an_option(capsys, demo_run, tmp_path, commit):
    _git_repo(tmp_path / "repo")
    run = _copy(demo_run, tmp_path / "repo")
    target = tmp_path / "overwritten"
    _edit_manifest(run, git_commit=commit.format(target=target))
    code, out, err = cli(capsys, "history", "add", str(run), "--db", str(tmp_path / "h.sqlite"))
    assert code == 0, err
    assert "added" in out
    assert not target.exists(), "git wrote the file a manifest named"


def test_history_add_dates_a_real_commit(capsys, demo_run, tmp_path):
    """The hex check keeps what it is for: a manifest's real commit is still dated by git."""
    from nscharacterize.gate.git import commit_date

    sha = _git_repo(tmp_path / "repo")
    run = _copy(demo_run, tmp_path / "repo")
    assert commit_date(run, sha).startswith("2001-02-03")
    assert commit_date(run, sha[:10] + "-dirty").startswith("2001-02-03")
    assert commit_date(run, "--output=x") is None and commit_date(run, ["a"]) is None


def test_a_ref_is_resolved_as_a_ref_never_as_an_option(tmp_path):
    from nscharacterize.gate.errors import CompareError
    from nscharacterize.gate.git import resolve_ref

    sha = _git_repo(tmp_path / "repo")
    assert resolve_ref(tmp_path / "repo", "HEAD") == sha
    target = tmp_path / "overwritten"
    for ref in (f"--output={target}", "--git-dir=/", "-h"):
        with pytest.raises(CompareError, match="is not a commit"):
            resolve_ref(tmp_path / "repo", ref)
    assert not target.exists()


# ---- factories: the project's own functions are not user code ---------------------------------------
def test_the_projects_own_functions_are_not_factories(capsys, tmp_path):
    victim = tmp_path / "store" / "kept"
    victim.mkdir(parents=True)
    (victim / "manifest.json").write_text("{}")
    written = tmp_path / "written.txt"
    cases = [("nscharacterize.core.fileio:atomic_write_text", {"target": str(written), "text": "pwned"}),
             ("nscharacterize.gate.baselines:remove", {"name": "kept", "store": str(tmp_path / "store")}),
             ("nscharacterize.rundir.manifest:mark_killed", {"manifest": {}, "config": {}})]
    for ref, params in cases:
        cfg = write_config(tmp_path / "c.yaml", workloads=[{"workload": ref, "params": params}])
        code, _, err = cli(capsys, "run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
        one_line(code, err, "c.yaml: workloads[0].workload", "nscharacterize itself", "-> Workload")
    assert not written.exists() and (victim / "manifest.json").is_file()
    assert run_dirs(tmp_path / "runs") == []


def test_where_a_function_lives():
    import os as os_module

    import yaml

    from nscharacterize.workloads import registry

    assert registry.home(registry.__file__) == "package"
    assert registry.home(os_module.__file__) == "stdlib"
    assert registry.home(yaml.__file__) == "installed"
    assert registry.home(str(Path(__file__).resolve().parent.parent / "support" / "user_models.py")) == "user"


# ---- the page: every value from the run directory is escaped -----------------------------------------
PAYLOAD = "<img src=x onerror=alert({n})>"


class _Dom(html.parser.HTMLParser):
    """Every element the browser would build from the page, including the HTML DataTables inserts
    from its JSON (itables' ``table_html``), so a payload that survives into either is found."""

    def __init__(self):
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on") or (value or "").startswith("javascript:"):
                self.bad.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data):
        if '"table_html"' in data:
            for blob in data.split('"table_html": ')[1:]:
                inner = _Dom()
                inner.feed(json.JSONDecoder().raw_decode(blob)[0])
                self.bad += inner.bad


def test_markup_in_run_directory_data_is_shown_not_run(capsys, demo_run, tmp_path):
    run = _copy(demo_run, tmp_path)
    breakdown = pd.read_csv(run / "breakdown.csv")
    breakdown.loc[len(breakdown)] = breakdown.iloc[0]
    breakdown.loc[len(breakdown) - 1, ["axis", "category"]] = [PAYLOAD.format(n=1), PAYLOAD.format(n=2)]
    breakdown.to_csv(run / "breakdown.csv", index=False)
    samples = pd.read_csv(run / "samples.csv")
    samples.loc[0, ["axis", "category"]] = [PAYLOAD.format(n=3), PAYLOAD.format(n=4)]
    samples.to_csv(run / "samples.csv", index=False)
    pd.DataFrame({PAYLOAD.format(n=5): [PAYLOAD.format(n=6)]}).to_csv(run / (PAYLOAD.format(n=7) + ".csv"), index=False)
    code, _, err = cli(capsys, "report", str(run))
    assert code == 0, err
    page = (run / "report.html").read_text(encoding="utf-8")
    dom = _Dom()
    dom.feed(page)
    assert dom.bad == [], dom.bad
    for n in range(1, 8):
        assert f"<img src=x onerror=alert({n})>" not in page.replace("\\u003c", "<").split("<script")[0]
    assert "&lt;img src=x onerror=alert(7)&gt;.csv" in page  # shown, as text


# ---- writes replace regular files only --------------------------------------------------------------
def test_compare_json_into_a_pipe_or_device_is_refused(capsys, demo_run, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = cli(capsys, "compare", str(demo_run), str(demo_run), "--json", str(fifo))
    one_line(code, err, str(fifo), "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the pipe was replaced"
    code, _, err = cli(capsys, "compare", str(demo_run), str(demo_run), "--json", "/dev/full")
    one_line(code, err, "/dev/full", "not a regular file")
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)
    assert not [p for p in Path("/dev").glob(".full.*")], "a temporary file was left in /dev"


def test_a_symlinked_output_is_replaced_not_followed(tmp_path):
    from nscharacterize.core.fileio import atomic_write_text

    target = tmp_path / "elsewhere.json"
    target.write_text("kept")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.read_text() == "new" and not link.is_symlink() and target.read_text() == "kept"
