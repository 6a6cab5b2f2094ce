"""The README is short, its commands exist as written, and its own-model example runs."""
from __future__ import annotations

import re
import subprocess

from clirun import ROOT, printed_dir, run_cli

README = (ROOT / "README.md").read_text()


def _block(first_line: str) -> str:
    """The fenced code block of the README whose first line is ``first_line``."""
    blocks = re.findall(r"```\w*\n(.*?)```", README, flags=re.S)
    return next(b for b in blocks if b.splitlines()[0] == first_line)


def test_readme_is_short():
    assert len(README.splitlines()) < 200


def test_readme_make_targets_exist():
    targets = set(re.findall(r"\bmake (\w+)", README))
    assert {"setup", "run", "test", "lint", "docs", "bench"} <= targets
    for target in targets:
        proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"make {target}: {proc.stderr}"


def test_readme_own_model_example_runs(tmp_path):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "classifier.py").write_text(_block("# mypkg/classifier.py"))
    config = tmp_path / "mine.yaml"
    config.write_text(_block("# mine.yaml").replace("samples: 5", "samples: 1") + "warmup: 0\nrepeats: 1\n")
    proc = run_cli("run", str(config), "--out", str(tmp_path / "runs"), "--quiet", cwd=tmp_path,
                   env={"PYTHONPATH": f"{tmp_path}:{ROOT}"})
    assert proc.returncode == 0, proc.stderr
    run_dir = printed_dir(proc)
    assert "classifier" in (tmp_path / run_dir / "table.md").read_text()


def test_readme_cli_commands_exist():
    """Every ``nscharacterize SUBCOMMAND`` the README shows is a subcommand of the installed CLI."""
    commands = set(re.findall(r"^nscharacterize ([a-z-]+)", README, flags=re.M))
    assert {"run", "report", "compare", "import-trace", "sweep"} <= commands
    for command in sorted(commands):
        proc = run_cli(command, "--help")
        assert proc.returncode == 0 and "usage: nscharacterize" in proc.stdout, (command, proc.stderr[-500:])
