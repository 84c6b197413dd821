"""Content-addressed stage artifacts: hashing, atomic writes, chunked resume.

A stage is a function plus a directory ``<store>/<stage>/<key>/`` where ``key`` hashes the stage's name, its
version and a canonical JSON of everything upstream that changes its output (as in redun/joblib). A stage writes
its chunks and its table atomically (temp file, then rename) and its ``DONE`` marker last, so a killed run loses at
most the chunk in flight and a rerun, from any run directory, skips every finished stage and chunk.
Bump a stage's version in ``STAGE_VERSIONS`` whenever a code change moves its numbers.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

STAGE_VERSIONS = {"sample": 1, "score": 2, "judge": 1}  # score 2: a prefill is rated once, not twice


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def digest(obj: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()[:length]


def stage_key(stage: str, spec: dict) -> str:
    return digest({"stage": stage, "version": STAGE_VERSIONS[stage], "spec": spec})


def _atomic(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    _atomic(Path(path), lambda tmp: Path(tmp).write_text(text))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    _atomic(Path(path), lambda tmp: df.to_parquet(tmp, index=False))


class Store:
    """``<root>/<stage>/<key>/`` directories with a ``table.parquet``, a ``spec.json`` and a ``DONE`` marker."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()

    def dir(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def done(self, stage: str, key: str) -> bool:
        return (self.dir(stage, key) / "DONE").exists()

    def table(self, stage: str, key: str) -> pd.DataFrame:
        return pd.read_parquet(self.dir(stage, key) / "table.parquet")

    def meta(self, stage: str, key: str) -> dict:
        p = self.dir(stage, key) / "meta.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def run_chunked(self, stage: str, key: str, spec: dict, items: Sequence, chunk_size: int,
                    compute: Callable[[Sequence], tuple[pd.DataFrame, dict]],
                    progress: Callable[[int, int], None] | None = None) -> tuple[pd.DataFrame, dict]:
        """Build a stage's table chunk by chunk, resuming from the chunks already written.

        Args:
            items: the stage's work units in a deterministic order (prompts); chunk i is items[i*c:(i+1)*c].
            compute: turns one chunk of items into (rows, facts); facts are counts (summed over chunks) or lists
                (concatenated), e.g. prompts skipped for length. Called only for missing chunks: models load lazily.
        Returns:
            The whole table (chunks in order) and the merged facts, also saved as meta.json.
        """
        d = self.dir(stage, key)
        if self.done(stage, key):
            return self.table(stage, key), self.meta(stage, key)
        write_json(d / "spec.json", {"stage": stage, "version": STAGE_VERSIONS[stage], "spec": spec})
        cdir = d / f"chunks-{chunk_size}"
        n_chunks = max(1, -(-len(items) // chunk_size))
        frames, facts = [], {}
        for i in range(n_chunks):
            f, fj = cdir / f"{i:05d}.parquet", cdir / f"{i:05d}.json"
            if f.exists() and fj.exists():
                df, extra = pd.read_parquet(f), json.loads(fj.read_text())
            else:
                df, extra = compute(items[i * chunk_size:(i + 1) * chunk_size])
                write_json(fj, extra)  # facts first: a chunk counts as done only once its parquet exists too
                write_parquet(f, df)
            frames.append(df)
            for k, v in extra.items():
                facts[k] = facts.get(k, [] if isinstance(v, list) else 0) + v
            if progress:
                progress(i + 1, n_chunks)
        table = pd.concat(frames, ignore_index=True)
        write_parquet(d / "table.parquet", table)
        write_json(d / "meta.json", facts)
        write_text(d / "DONE", "")
        return table, facts
