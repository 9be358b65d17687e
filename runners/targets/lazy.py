"""A module imported on first use: how each target's SDK adaptor (targets/<name>/sdk.py) names
its SDK without importing it.

An SDK costs up to seconds to import, and a launch, a dry run or the CLI must never pay for it:
only a runner that runs touches an attribute of its adaptor's modules, and that first touch
imports the module (Python caches it in sys.modules, under its own import lock). An `except
sdk.errors.APIError:` clause is evaluated only when an exception passes through it, so it
imports nothing either until then.
"""

import importlib
from types import ModuleType


class LazyModule:
    """Stands for the module `name`; imports it at the first attribute asked of it."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str):
        # Only for attributes not set in __init__: _name and _module never come here.
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<LazyModule {self._name} ({state})>"
