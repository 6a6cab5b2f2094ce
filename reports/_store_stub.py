"""TEMPORARY stand-in for reports/store.py's RunDir until the lead's store lands; delete then."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml


class RunDirError(ValueError):
    pass


class RunDir:
    def __init__(self, path):
        self.path = Path(path)
        f = self.path / "manifest.json"
        try:
            self.manifest = json.loads(f.read_text())
        except FileNotFoundError:
            raise RunDirError(f"{f}: missing; rerun `nscharacterize run`") from None
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{f}: not valid JSON ({exc}); rerun `nscharacterize run`") from None
        f = self.path / "config.yaml"
        self.config = yaml.safe_load(f.read_text()) if f.exists() else {}

    def _csv(self, name):
        f = self.path / name
        try:
            return pd.read_csv(f)
        except FileNotFoundError:
            raise RunDirError(f"{f}: missing; rerun `nscharacterize run`") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise RunDirError(f"{f}: corrupt ({exc}); rerun `nscharacterize run`") from None

    def samples(self):
        return self._csv("samples.csv")

    def breakdown(self):
        return self._csv("breakdown.csv")

    def timings(self):
        return self._csv("timings.csv")
