"""Lists every package under the stage folders, which pyproject maps into nscharacterize.*."""
import os

from setuptools import setup

STAGES = {"nscharacterize": "nscharacterize", "profiler": "nscharacterize.profiler",
          "taxonomy": "nscharacterize.taxonomy", "workloads": "nscharacterize.workloads",
          "reports": "nscharacterize.reports"}


def packages():
    found = []
    for folder, dotted in STAGES.items():
        for root, _dirs, files in os.walk(folder):
            if "__init__.py" in files:
                rel = os.path.relpath(root, folder)
                found.append(dotted if rel == "." else dotted + "." + rel.replace(os.sep, "."))
    return sorted(found)


setup(packages=packages())
