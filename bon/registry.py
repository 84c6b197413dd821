"""One registry per pluggable kind (sampler, pm, metric, judge, gold source).

A new implementation is one file in the registry's folder, with one decorator line::

    SAMPLERS = Registry("sampler", "bon.sampling")

    @SAMPLERS.register("hf")          # in bon/sampling/hf.py
    class HFSampler: ...

The registry imports every module of its folder the first time it is asked for a name, so no list of imports is kept
by hand (as lm-evaluation-harness walks its task folders). Configs name registry keys, never dotted import paths, so
refactors do not break old configs.

Plugins from outside the package register the same way, with the same decorator, from a module of the user's own:

- **entry points**: an installed distribution declares, in its pyproject.toml,
  ``[project.entry-points."bon.metrics"] my_metric = "my_pkg.metric"`` (groups ``bon.metrics``, ``bon.judges``,
  ``bon.pms``, ``bon.samplers``, ``bon.selectors``: ``bon.`` + the registry's kind + ``s``). Each registry loads its
  group when it discovers its folder: loading imports the module, whose decorator registers the plugin. An entry
  point that names an object (``my_pkg.metric:MyMetric``) not registered by its import is registered under the
  entry point's name.
- **the ``plugins`` config key**: ``plugins=[my_pkg.metric]`` imports those modules before the config is validated
  (:func:`load_plugins`), for a module on the path but not installed.

A plugin's name may not shadow a built-in one (``register`` raises on a second object under one name).
"""
from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import pkgutil
import types
from typing import Callable, Generic, Iterable, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a registry key that does not exist; the message lists close names and all names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class PluginError(ImportError):
    """A plugin module that cannot be imported, or an entry point that fails to load; the message names it."""


def entry_points(group: str) -> list:
    """The installed entry points of ``group``, sorted by name (deterministic across machines)."""
    return sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name)


def load_plugins(modules: Iterable[str]) -> list[str]:
    """Import each module named in the ``plugins`` config key, so its decorators register its plugins.

    Returns:
        The modules imported, in order.
    Raises:
        PluginError: naming the module and why it cannot be imported (not on the path, an error inside it).
    """
    done = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001
            missing = isinstance(e, ModuleNotFoundError) and e.name and name.startswith(e.name)
            where = "not found on the path (install it, or add its folder to PYTHONPATH)" if missing \
                else f"{type(e).__name__}: {e}"
            raise PluginError(f"plugins: cannot import {name!r}: {where}") from e
        done.append(name)
    return done


class Registry(Generic[T]):
    """Name -> implementation for one pluggable kind.

    Args:
        kind: what the names are, for messages ("metric", "judge", ...).
        package: the package whose modules register into it (every module in its folder is imported on first use,
            names starting with ``_`` excepted); None for a registry filled by hand.
        group: the entry-point group its plugins are declared in; default ``bon.<kind>s``.
    """

    def __init__(self, kind: str, package: str | None = None, group: str | None = None):
        self.kind = kind
        self.package = package
        # entry-point group of plugins from other distributions: "bon.metrics" for kind "metric"
        self.group = group or f"bon.{kind.replace(' ', '_')}s"
        self._items: dict[str, T] = {}
        self._discovered = False

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
        if self.package is not None:
            pkg = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{info.name}")
        for ep in entry_points(self.group):
            try:
                obj = ep.load()
            except Exception as e:  # noqa: BLE001  a broken plugin is named, not a deep traceback
                raise PluginError(f"{self.kind} plugin {ep.name!r} (entry point {ep.value!r} in group "
                                  f"{self.group!r}) failed to load: {type(e).__name__}: {e}") from e
            if not isinstance(obj, types.ModuleType) and ep.name not in self._items:
                self.register(ep.name)(obj)

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
