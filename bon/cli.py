"""What ``python -m bon.run`` does to the command line around Hydra: open mappings, hints on composition errors, the
resume command. Kept apart from bon/run.py (the Hydra app) so each piece is testable without a run.

- **Open mappings.** ``variants.<v>.bias`` and ``dataset.where`` are mappings whose keys the user names (a feature, a
  base field). Every variant has a bias (empty unless set) and the dataset node has ``where: {}``, but OmegaConf's
  struct mode refuses a new key in them without ``+``. :func:`open_mappings` writes such an override as Hydra's
  ``++`` (add or override), so ``variants.standard.bias.agree=1`` works on experiment=demo (no bias yet) and on
  experiment=planted (a bias already) alike. An override the user prefixed with ``+``, ``++`` or ``~`` is kept.
- **Hints.** An unknown key gets the close names of its node (``dataset.max_item``: did you mean
  ``dataset.max_items``?); a list key given without brackets (``dataset.paths=x.jsonl``) gets the bracketed form.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import shlex
import typing

OPEN_MAPPING = re.compile(r"(variants\.[^.=~+]+\.bias|dataset\.where)\.[^=]+=")
# hydra.* overrides a job gets from its launcher, not from the user: not repeated in a resume command
_LAUNCHER_OVERRIDES = ("hydra.run.dir=", "hydra.mode=", "hydra.job.num=", "hydra.job.id=", "hydra.sweep.")


def open_mappings(argv: list[str]) -> list[str]:
    """argv with each plain override of a key inside an open mapping (variants.<v>.bias.<feature>=...,
    dataset.where.<field>=...) written as ``++`` (add or override); everything else unchanged."""
    return [f"++{a}" if OPEN_MAPPING.match(a) else a for a in argv]


def resume_command(task_overrides, hydra_overrides, run_dir) -> str:
    """The full command that resumes a run in its own folder: the task overrides, the user's hydra.* overrides and
    ``hydra.run.dir`` (without it a rerun would start a new folder; the finished chunks are in the store either way).
    """
    hydra = [o for o in hydra_overrides if not o.startswith(_LAUNCHER_OVERRIDES)]
    return " ".join(["python -m bon.run", *map(shlex.quote, [*task_overrides, *hydra, f"hydra.run.dir={run_dir}"])])


def _schema_fields(path: list[str]) -> list[str] | None:
    """The field names of the schema node at ``path`` (bon.config.Config's dataclasses); None past a free mapping."""
    from bon.config import Config

    node: typing.Any = Config
    for part in path:
        if not dataclasses.is_dataclass(node):
            return None
        hints = typing.get_type_hints(node)
        if part not in hints:
            return None
        node = hints[part]
    return [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else None


def unknown_key_hint(message: str) -> str:
    """' Did you mean ...?' for OmegaConf's "Key 'x' not in 'Node'" with its full_key, or ''."""
    m = re.search(r"Key '([^']+)' not in '[^']+'.*?full_key: ([\w.]+)", message, re.S)
    if not m:
        return ""
    parts = m[2].split(".")
    fields = _schema_fields(parts[:-1])
    close = difflib.get_close_matches(parts[-1], fields or [], n=3, cutoff=0.6)
    prefix = ".".join(parts[:-1] + [""])
    return f" Did you mean {', '.join(repr(prefix + c) for c in close)}?" if close else ""


def list_hint(message: str, argv: list[str]) -> str:
    """For "str is not a ListConfig" on a key given without brackets: the bracketed override to type instead."""
    m = re.search(r"is not a ListConfig.*?full_key: ([\w.]+)", message, re.S)
    if not m:
        return ""
    key = m[1]
    given = next((a.split("=", 1)[1] for a in argv if a.lstrip("+~").split("=", 1)[0] == key and "=" in a), None)
    example = f"'{key}=[{given}]'" if given is not None else f"'{key}=[a,b]'"
    return f" {key} is a list: write it in brackets, {example} (quoted, so the shell leaves the brackets alone)"
