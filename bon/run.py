"""Hydra entry point: ``python -m bon.run [overrides]`` (also the console script ``bon-run``).

Composes conf/ against the typed schema (bon/config.py), runs the job (bon/pipeline.py), and ends with
``results: <run directory>``. Multirun (``-m seed=0,1 sampler.temperature=0.7,1.0``) gives each job its own
directory and groups the jobs in W&B.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bon.config import ConfigError, register_configs

register_configs()


# An absolute path: a relative one is read as a Python package when the console script `bon-run` imports this module.
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from bon.data import DataError
    from bon.models import ModelError
    from bon.pipeline import run

    hc = HydraConfig.get()
    run_dir = cfg.run_dir or hc.runtime.output_dir
    group = None
    if hc.mode is not None and hc.mode.name == "MULTIRUN":
        group = hc.sweep.dir.rstrip("/").replace("/", "-")
    logging.getLogger("bon").setLevel(logging.INFO)
    try:
        out = run(cfg, run_dir, wandb_group=group)
    except (ConfigError, DataError, ModelError) as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(f"results: {out}", flush=True)


if __name__ == "__main__":
    main()
