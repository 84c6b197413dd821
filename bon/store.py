"""Content-addressed stage artifacts: hashing, atomic writes, chunked resume.

A stage is a function plus a directory ``<store>/<stage>/<key>/`` where ``key`` hashes the stage's name, its
version and a canonical JSON of everything upstream that changes its output (as in redun/joblib). A stage writes
its chunks and its table atomically (temp file, then rename) and its ``DONE`` marker last, so a killed run loses at
most the chunk in flight and a rerun, from any run directory, skips every finished stage and chunk.
Each stage declares its own name and version where it is written (:func:`declare_stage`, bon/stages/); bump the
version whenever a code change moves its numbers.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pandas as pd
from pyarrow import ArrowException as ArrowError

log = logging.getLogger("bon")

_VERSIONS: dict[str, int] = {}  # stage name -> version, as each stage declares it (declare_stage)


def declare_stage(name: str, version: int) -> None:
    """Record a stage's version, from the module that writes the stage; its keys and headers hash it."""
    if _VERSIONS.get(name, version) != version:
        raise ValueError(f"stage {name!r} is declared twice, with versions {_VERSIONS[name]} and {version}")
    _VERSIONS[name] = version


def stage_version(stage: str) -> int:
    try:
        return _VERSIONS[stage]
    except KeyError:
        raise KeyError(f"stage {stage!r} has no declared version (declared: {sorted(_VERSIONS)}); its module "
                       "declares it with bon.store.declare_stage") from None


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def digest(obj: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()[:length]


def stage_key(stage: str, spec: dict) -> str:
    return digest({"stage": stage, "version": stage_version(stage), "spec": spec})


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; artifacts get the mode of any new file (0644 under umask 022, 0664 under 002), so a
# shared store or project folder is readable by the team. Directories already follow the umask.
FILE_MODE = 0o666 & ~_umask()


def _atomic(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, FILE_MODE)
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    _atomic(Path(path), lambda tmp: Path(tmp).write_text(text))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, _json_text(obj))


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    _atomic(Path(path), lambda tmp: df.to_parquet(tmp, index=False))


class Store:
    """``<root>/<stage>/<key>/`` directories with a ``table.parquet``, a ``spec.json`` and a ``DONE`` marker.

    Integrity: ``DONE`` records the table's sha256, row count and columns, and each chunk's ``.json`` records its
    parquet's sha256. A hit is re-hashed and re-read before it is trusted; a bad hash, a truncated or unreadable
    Parquet file, other columns than expected, or a ``spec.json`` of another spec (a foreign artifact) logs a
    warning and is recomputed. One ``fcntl`` lock per stage key: a second job with the same key waits for the
    first, then reuses its result. The table returned is always the one read back from disk.
    """

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

    def result(self, stage: str, key: str) -> Any | None:
        """The JSON result of a stage without a table (an instrument check), or None when there is none to trust."""
        p = self.dir(stage, key) / "result.json"
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError) as e:
            log.warning("store: %s is corrupt (%s); recomputing it", p, e)
            return None

    def put_result(self, stage: str, key: str, result: Any) -> None:
        write_json(self.dir(stage, key) / "result.json", result)

    @contextmanager
    def locked(self, stage: str, keys: Sequence[str]) -> Iterator[None]:
        """Hold the locks of ``keys`` (in sorted order, so two jobs never deadlock): a job that needs a result another
        job is computing waits for it, then finds it stored, instead of computing it a second time. Same lock files
        as :meth:`run_chunked`."""
        with ExitStack() as stack:
            for key in sorted(set(keys)):
                d = self.dir(stage, key)
                d.mkdir(parents=True, exist_ok=True)
                lock = stack.enter_context(open(d / ".lock", "a"))
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("store: %s/%s is being computed by another job; waiting for it", stage, key)
                    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when its holder dies
            yield

    def _verified(self, stage: str, key: str, header: dict, columns: Sequence[str] | None
                  ) -> tuple[pd.DataFrame, dict] | None:
        """The finished table and facts if every check passes; None (with a warning) if anything is off."""
        d = self.dir(stage, key)
        try:
            marker = json.loads((d / "DONE").read_text() or "{}")
            spec = json.loads((d / "spec.json").read_text())
            if spec != json.loads(canonical(header)):
                raise ValueError("spec.json holds another spec (a foreign artifact)")
            if marker.get("sha256") != file_sha256(d / "table.parquet"):
                raise ValueError("table.parquet does not match the hash recorded when it was written")
            table = pd.read_parquet(d / "table.parquet")
            if list(table.columns) != marker.get("columns") or len(table) != marker.get("rows"):
                raise ValueError("table.parquet has other columns or rows than recorded")
            if columns is not None and list(table.columns) != list(columns):
                raise ValueError(f"table.parquet has columns {list(table.columns)}, expected {list(columns)}")
            return table, json.loads((d / "meta.json").read_text())
        except (OSError, ValueError, ArrowError) as e:  # ArrowError: truncated or non-Parquet bytes
            log.warning("store: %s/%s is corrupt or foreign (%s); recomputing it", stage, key, e)
            (d / "DONE").unlink(missing_ok=True)
            return None

    def _chunk(self, f: Path, fj: Path, columns: Sequence[str] | None) -> tuple[pd.DataFrame, dict] | None:
        """A finished chunk (rows, facts) if its hash and columns check out, else None."""
        if not (f.exists() and fj.exists()):
            return None
        try:
            rec = json.loads(fj.read_text())
            if rec.get("sha256") != file_sha256(f):
                raise ValueError("hash mismatch")
            df = pd.read_parquet(f)
            if columns is not None and list(df.columns) != list(columns):
                raise ValueError(f"columns {list(df.columns)}, expected {list(columns)}")
            return df, rec["facts"]
        except (OSError, ValueError, KeyError, ArrowError) as e:
            log.warning("store: chunk %s is corrupt or foreign (%s); recomputing it", f, e)
            return None

    def run_chunked(self, stage: str, key: str, spec: dict, items: Sequence, chunk_size: int,
                    compute: Callable[[Sequence], tuple[pd.DataFrame, dict]],
                    progress: Callable[[int, int], None] | None = None,
                    columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, dict]:
        """Build a stage's table chunk by chunk, resuming from the chunks already written.

        Args:
            items: the stage's work units in a deterministic order (prompts); chunk i is items[i*c:(i+1)*c].
            compute: turns one chunk of items into (rows, facts); facts are counts (summed over chunks) or lists
                (concatenated), e.g. prompts skipped for length. Called only for missing chunks: models load lazily.
            columns: the table's expected columns; a stored table or chunk with others is recomputed.
        Returns:
            The whole table (chunks in order), read back from the store, and the merged facts (meta.json).
        """
        d = self.dir(stage, key)
        header = {"stage": stage, "version": stage_version(stage), "spec": spec}
        with self.locked(stage, [key]):  # another job computing this very key: wait for it, then reuse its result
            if self.done(stage, key):
                hit = self._verified(stage, key, header, columns)
                if hit is not None:
                    return hit
            return self._build(d, header, items, chunk_size, compute, progress, columns)

    def _build(self, d: Path, header: dict, items: Sequence, chunk_size: int, compute, progress, columns):
        spec_path = d / "spec.json"
        if spec_path.exists() and spec_path.read_bytes() != _json_text(header).encode():
            log.warning("store: %s holds another spec (a foreign artifact); discarding its chunks", d)
            shutil.rmtree(d / f"chunks-{chunk_size}", ignore_errors=True)
        write_text(spec_path, _json_text(header))
        cdir = d / f"chunks-{chunk_size}"
        n_chunks = max(1, -(-len(items) // chunk_size))
        facts: dict = {}
        n_done = sum((cdir / f"{i:05d}.json").exists() for i in range(n_chunks))
        if n_done:  # a killed run's stage picked up again (bad chunks among them are recomputed below)
            log.info("%s: resumed: %d of %d chunks done (%s)", d.parent.name, n_done, n_chunks, d)
        for i in range(n_chunks):
            f, fj = cdir / f"{i:05d}.parquet", cdir / f"{i:05d}.json"
            got = self._chunk(f, fj, columns)
            if got is None:
                df, extra = compute(items[i * chunk_size:(i + 1) * chunk_size])
                _write_chunk(f, fj, df, extra)
            else:
                extra = got[1]
            for k, v in extra.items():
                facts[k] = facts.get(k, [] if isinstance(v, list) else 0) + v
            if progress:
                progress(i + 1, n_chunks)
        # concatenate what is on disk, never what was computed in memory: every job builds on the same bytes
        table = pd.concat([pd.read_parquet(cdir / f"{i:05d}.parquet") for i in range(n_chunks)], ignore_index=True)
        write_parquet(d / "table.parquet", table)
        write_json(d / "meta.json", facts)
        write_json(d / "DONE", {"sha256": file_sha256(d / "table.parquet"), "rows": len(table),
                                "columns": list(table.columns)})
        return pd.read_parquet(d / "table.parquet"), json.loads((d / "meta.json").read_text())


def _write_chunk(f: Path, fj: Path, df: pd.DataFrame, facts: dict) -> None:
    """Parquet to a temp file, its record (facts + sha256) next, then the rename: a chunk's parquet never exists
    without its record, so a chunk counts as done exactly when its parquet exists (and its hash checks out)."""
    def write(tmp: str) -> None:
        df.to_parquet(tmp, index=False)
        write_json(fj, {"facts": facts, "sha256": file_sha256(Path(tmp))})

    _atomic(f, write)


def _json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"


def _locked(lock) -> bool:
    """True when another process holds the lock (a non-blocking try that fails)."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
