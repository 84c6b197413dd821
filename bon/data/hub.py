"""Optional download of the upstream SycophancyEval files from the Hugging Face mirror (needs network)."""
from __future__ import annotations

from pathlib import Path

REPO_ID = "meg-tong/sycophancy-eval"
FILES = ("answer.jsonl", "feedback.jsonl", "mimicry.jsonl", "are_you_sure.jsonl")


class HubUnavailable(RuntimeError):
    pass


def fetch(dest: str | Path, timeout_s: float = 10.0) -> Path:
    """Download the four files of the mirror into ``dest`` and return it.

    Raises:
        HubUnavailable: with a message that says what to do instead, when the hub cannot be reached.
    """
    import os

    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", str(int(timeout_s)))
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", str(int(timeout_s)))
    dest = Path(dest)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:  # pragma: no cover - transformers depends on it
        raise HubUnavailable(f"huggingface_hub is not installed ({e})") from None
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        try:
            hf_hub_download(REPO_ID, name, repo_type="dataset", local_dir=dest)
        except Exception as e:  # network errors come in many types; all mean the same to the user
            raise HubUnavailable(
                f"cannot fetch {name} from the Hugging Face hub dataset {REPO_ID} ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else 'no detail'}). This machine may have no network: download "
                f"the files elsewhere (github.com/meg-tong/sycophancy-eval, folder datasets/) and pass their folder "
                f"instead, e.g. `python -m bon.data /path/to/datasets` or `dataset.paths=[/path/to/datasets]`."
            ) from None
    return dest
