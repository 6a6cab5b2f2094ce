"""Lists every package under the stage folders. The folder -> import-name map is written once,
in pyproject.toml's [tool.setuptools] package-dir; this file only walks those folders."""
import os
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib

from setuptools import setup

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyproject.toml"), "rb") as f:
    PACKAGE_DIR = tomllib.load(f)["tool"]["setuptools"]["package-dir"]


def packages():
    found = []
    for dotted, folder in PACKAGE_DIR.items():
        for root, _dirs, files in os.walk(folder):
            if "__init__.py" in files:
                rel = os.path.relpath(root, folder)
                found.append(dotted if rel == "." else dotted + "." + rel.replace(os.sep, "."))
    return sorted(found)


setup(packages=packages())
