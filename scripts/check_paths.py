"""Fails on a repository path cited in the docs or in code comments that does not exist.

    python scripts/check_paths.py          # prints FILE:LINE: PATH for each, exit 1 if any

A citation is a path that starts at a top-level folder of this repository (``nscharacterize/``,
``tests/``, ``docs/``, ``configs/``, ``scripts/``, ``benchmarks/``) or a path inside the package
written from a stage folder (``profiler/session.py`` for ``nscharacterize/profiler/session.py``,
with a file name, so that a folder word in prose is not taken for a path). Globs
(``configs/nlm-*.yaml``) must match at least one file; a component in capitals is a placeholder
(``docs/results/PAGE.md``) and is not checked. Scanned: Markdown files, and the comments
and docstrings of Python files, the Makefile, .ci/run, YAML configs and pyproject.toml. Not
scanned: docs/research/ (notes that quote other repositories' paths) and generated output.
tests/docs/test_paths.py runs it.
"""
from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("nscharacterize", "tests", "docs", "configs", "scripts", "benchmarks")
STAGES = ("core", "rundir", "profiler", "taxonomy", "workloads", "attribution", "reports", "gate")
SKIP = ("docs/research/", "site/", ".venv/", "runs/", "build/")
_PART = r"[\w.*-]+"
# a path begins after a character that cannot be part of a longer path or name
CITED = re.compile(rf"(?<![\w./-])((?:{'|'.join(TOP)})(?:/{_PART})*/?)")
STAGE_FILE = re.compile(rf"(?<![\w./-])((?:{'|'.join(STAGES)})(?:/{_PART})*/{_PART}\.(?:py|yaml|html))")


def text_to_scan(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of what may cite a path: all of a Markdown file, else comments and docstrings."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".md":
        return list(enumerate(text.splitlines(), 1))
    if path.suffix != ".py":   # Makefile, shell, YAML, TOML: the comments
        return [(i, line[line.index("#"):]) for i, line in enumerate(text.splitlines(), 1) if "#" in line]
    try:
        tree = ast.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, tokenize.TokenError):
        return list(enumerate(text.splitlines(), 1))
    out = [(t.start[0], t.string) for t in tokens if t.type == tokenize.COMMENT]
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                out += [(first.lineno + k, line) for k, line in enumerate(first.value.value.splitlines())]
    return out


def placeholder(cited: str) -> bool:
    """``docs/results/PAGE.md``: a component in capitals stands for a name the reader fills in."""
    return any(re.fullmatch(r"[A-Z][A-Z_]*(\.\w+)?", part) for part in cited.split("/")[1:])


def exists(cited: str) -> bool:
    cited = cited.rstrip(".")
    if placeholder(cited):
        return True
    if "*" in cited:
        return any(ROOT.glob(cited.rstrip("/")))
    module_attr = re.fullmatch(r"(.+/\w+)\.\w+", cited)   # nscharacterize/gate/runs.identity
    return (ROOT / cited).exists() or bool(module_attr and (ROOT / f"{module_attr.group(1)}.py").is_file())


def files() -> list[Path]:
    found = [p for pattern in ("*.md", "**/*.md", "**/*.py", "configs/**/*.yaml") for p in ROOT.glob(pattern)]
    found += [ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "pyproject.toml"]
    keep = []
    for p in sorted(set(found)):
        rel = p.relative_to(ROOT).as_posix()
        if p.is_file() and not rel.startswith(SKIP) and "/." not in f"/{rel}":
            keep.append(p)
    return keep


def missing() -> list[str]:
    """``FILE:LINE: PATH`` for every cited path that does not exist."""
    out = []
    for path in files():
        rel = path.relative_to(ROOT).as_posix()
        for lineno, line in text_to_scan(path):
            for m in CITED.finditer(line):
                cited = m.group(1).rstrip(".")
                if "/" not in cited.rstrip("/"):
                    continue   # the bare word "docs" or "tests"
                if not exists(cited):
                    out.append(f"{rel}:{lineno}: {cited}")
            for m in STAGE_FILE.finditer(line):
                cited = m.group(1).rstrip(".")
                if not exists(f"nscharacterize/{cited}") and not exists(cited):
                    out.append(f"{rel}:{lineno}: {cited} (as nscharacterize/{cited})")
    return out


def main() -> int:
    bad = missing()
    for line in bad:
        print(line)
    if bad:
        print(f"{len(bad)} cited path(s) do not exist: fix the citation or the path", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
