"""One registry per pluggable kind (sampler, pm, metric, judge, gold source).

A new implementation is one file in the registry's folder, with one decorator line::

    SAMPLERS = Registry("sampler", "bon.sampling")

    @SAMPLERS.register("hf")          # in bon/sampling/hf.py
    class HFSampler: ...

The registry imports every module of its folder the first time it is asked for a name, so no list of imports is kept
by hand (as lm-evaluation-harness walks its task folders). Configs name registry keys, never dotted import paths, so
refactors do not break old configs.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a registry key that does not exist; the message lists close names and all names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class Registry(Generic[T]):
    """Name -> implementation for one pluggable kind.

    Args:
        kind: what the names are, for messages ("metric", "judge", ...).
        package: the package whose modules register into it (every module in its folder is imported on first use,
            names starting with ``_`` excepted); None for a registry filled by hand.
    """

    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self.package = package
        self._items: dict[str, T] = {}
        self._discovered = package is None

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def discover(self) -> None:
        """Import every module of the registry's folder, so that each registers what it defines (once)."""
        if self._discovered:
            return
        self._discovered = True  # first: a module imported below may ask this registry again
        pkg = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")

    def close_names(self, name: str) -> str:
        """A hint naming the registered names close to ``name`` (" Did you mean 'x'?"), or "" when none is."""
        self.discover()
        close = difflib.get_close_matches(name, self._items, n=3)
        return f" Did you mean {', '.join(map(repr, close))}?" if close else ""

    def get(self, name: str) -> T:
        self.discover()
        if name not in self._items:
            hint = self.close_names(name)
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(sorted(self._items)) or '(none)'}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, implementation) pairs, sorted by name."""
        self.discover()
        return sorted(self._items.items())

    def __contains__(self, name: str) -> bool:
        self.discover()
        return name in self._items
