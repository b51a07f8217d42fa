"""A module imported when first used rather than when its importer is: ``pandas`` costs 0.3 s of a core to
import (bench/startup.py), and a first visitor's Model Builder draws nothing that needs it (only its tabs' tables and
an uploaded CSV do). ``from playground.lazy import pandas as pd`` reads as the usual alias; ``pd.DataFrame`` imports
pandas the first time."""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for the module ``name``: the first attribute read imports it, later ones are plain reads of it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazily imported module {self._name!r}>"


pandas = LazyModule("pandas")
