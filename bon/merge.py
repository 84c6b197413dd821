"""Merge the run directories of a sharded run: ``python -m bon.merge RUN_DIR... [-o OUT]``.

Each shard (``shard.index=i shard.count=K``, e.g. one SLURM array task) writes its per-sample tables into its run dir:
``prompts.jsonl`` (the prompts, with their position in the unsharded selection), ``samples.parquet`` (replies,
rewards per PM variant) and ``judged.parquet`` (raw judge values). This puts the prompts back in unsharded order and
runs the same curves code as ``bon.run`` (:func:`bon.stages.results.run`): curves, bootstrap CIs, paired
differences, the plot, the report and the W&B run. Bootstrap CIs resample items in that order with the run's seed,
so the merged ``curves.csv`` equals an unsharded run's byte for byte.

No model loads: the instrument checks (labelled sets) are the same for every shard of a run, and are copied.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
import time
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

# What may differ between shards of one run: which shard, where it wrote, and knobs that move no number.
SHARD_KEYS = ("shard.", "run_dir", "hydra", "progress")


class MergeError(ValueError):
    pass


def _flat(d, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _comparable(config: dict) -> dict:
    return {k: v for k, v in _flat(config).items() if not k.startswith(SHARD_KEYS)}


def read_shard(run_dir: Path) -> dict:
    """A shard's run.json config and per-sample tables; raises MergeError naming the missing file."""
    run_dir = Path(run_dir)
    need = ["run.json", "prompts.jsonl", "samples.parquet", "judged.parquet"]
    missing = [n for n in need if not (run_dir / n).exists()]
    if missing:
        raise MergeError(f"{run_dir}: missing {', '.join(missing)}; is it a finished bon run directory "
                         "(written by this version of bon)?")
    summary = json.loads((run_dir / "run.json").read_text())
    prompts = []
    for line_no, line in enumerate((run_dir / "prompts.jsonl").read_text().splitlines(), 1):
        try:
            prompts.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise MergeError(f"{run_dir / 'prompts.jsonl'}:{line_no}: not JSON ({e.msg})") from None
    return {"dir": run_dir, "summary": summary, "config": summary["config"], "prompts": prompts,
            "samples": pd.read_parquet(run_dir / "samples.parquet"),
            "judged": pd.read_parquet(run_dir / "judged.parquet")}


def check_shards(shards: list[dict]) -> None:
    """Refuse shards of different runs (naming the keys that differ) and a missing or repeated shard."""
    ref = _comparable(shards[0]["config"])
    for s in shards[1:]:
        other = _comparable(s["config"])
        diff = sorted(k for k in ref.keys() | other.keys() if ref.get(k, "<absent>") != other.get(k, "<absent>"))
        if diff:
            shown = "; ".join(f"{k}: {ref.get(k, '<absent>')!r} vs {other.get(k, '<absent>')!r}" for k in diff[:10])
            raise MergeError(f"{shards[0]['dir']} and {s['dir']} are not shards of one run: their configs differ "
                             f"in {', '.join(diff)} ({shown})")
    counts = {s["config"].get("shard", {}).get("count", 1) for s in shards}
    if len(counts) != 1:
        raise MergeError(f"the shards disagree on shard.count: {sorted(counts)}")
    count = counts.pop()
    have: dict[int, Path] = {}
    for s in shards:
        i = s["config"].get("shard", {}).get("index", 0)
        if i in have:
            raise MergeError(f"shard {i} given twice: {have[i]} and {s['dir']}")
        have[i] = s["dir"]
    missing = sorted(set(range(count)) - set(have))
    if missing:
        raise MergeError(f"shard.count is {count} but shard(s) {missing} are missing; pass every shard's run dir")


# Facts about the whole data set, not the shard's slice: every shard loads all files before keeping its items, so each
# holds the full list and adding them up would count every repeat once per shard.
DATA_FACTS = ("duplicate_prompts",)


def _merge_facts(facts: list[dict]) -> dict:
    """Counts add up, lists concatenate, nested dicts merge; other values, and DATA_FACTS, keep the first shard's."""
    out: dict = {}
    for f in facts:
        for k, v in f.items():
            if k in DATA_FACTS and k in out:
                continue
            if k not in out:
                out[k] = json.loads(json.dumps(v))
            elif isinstance(v, dict) and isinstance(out[k], dict):
                out[k] = _merge_facts([out[k], v])
            elif isinstance(v, list) and isinstance(out[k], list):
                out[k] = out[k] + v
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and isinstance(out[k], (int, float)):
                out[k] = out[k] + v
    return out


def merge(run_dirs: list[str | Path], out: str | Path, wandb_group: str | None = None) -> Path:
    """Combine shard run dirs into ``out`` and recompute every run-level artifact. Returns ``out``.

    Raises:
        MergeError: shards of different configs (naming the differing keys), missing/repeated shards, or files.
    """
    from bon import store as st
    from bon.config import validate
    from bon.data import Example
    from bon.stages.context import Context
    from bon.runtime import release_memory
    from bon.stages import judge, results, select
    from bon.stages.base import to_matrix
    from bon.stages.sample import STAGE as SAMPLED

    t0 = time.time()
    if not run_dirs:
        raise MergeError("no run directories given")
    shards = [read_shard(Path(d)) for d in run_dirs]
    check_shards(shards)
    shards.sort(key=lambda s: s["config"].get("shard", {}).get("index", 0))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = shards[0]["config"]
    # run.json sorts its keys, but variant order matters (differences are a - b in config order): the reward
    # columns of samples.parquet keep it.
    order = [c[len("reward/"):] for c in shards[0]["samples"].columns if c.startswith("reward/")]
    variants = config.get("variants") or {}
    config["variants"] = {**{v: variants[v] for v in order if v in variants}, **variants}
    config["shard"] = {"index": 0, "count": 1}
    config["run_dir"] = str(out)
    cfg = OmegaConf.create(config)
    ns = validate(cfg)

    rows = [p for s in shards for p in s["prompts"]]
    rows.sort(key=lambda p: p["position"])
    examples = [Example(**{**{k: v for k, v in p.items() if k != "position"},
                           "conversation": tuple(p["conversation"])}) for p in rows]
    keys = [e.key for e in examples]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise MergeError(f"prompt {dup!r} appears in more than one shard; were the shards run with the same data?")
    positions = {e.key: p["position"] for p, e in zip(rows, examples)}

    m = cfg.m
    table = pd.concat([s["samples"] for s in shards], ignore_index=True)
    order = {k: i for i, k in enumerate(keys)}
    table = table.assign(_p=table["key"].map(order)).sort_values(["_p", "sample"], kind="stable")
    # the sample stage's own columns; results.run adds the rest again (meta, rewards, values, the audit columns)
    samples = table[[c for c in SAMPLED.columns if c in table.columns]].reset_index(drop=True)
    by_key = {k: g for k, g in samples.groupby("key", sort=False)}
    replies = [by_key[k]["reply"].tolist() for k in keys]
    variants = list(cfg.variants)

    ctx = Context(cfg, ns, st.Store(cfg.store), out, wandb_group=wandb_group, started=t0)
    ctx.examples, ctx.positions, ctx.samples, ctx.replies = examples, positions, samples, replies
    ctx.rewards = {v: to_matrix(table, examples, m, f"reward/{v}") for v in variants}
    judged_table = pd.concat([s["judged"] for s in shards], ignore_index=True)
    ctx.judged = judge.judged_arrays(judged_table, examples, m)  # NaN: not judged (answer_grading=auto)
    ctx.facts = _merge_facts([s["summary"].get("facts", {}) for s in shards])
    ctx.facts["merged_from"] = [str(s["dir"]) for s in shards]
    ctx.reused = ["merge"]
    for s in shards:
        for label, key in s["summary"].get("stages", {}).items():
            ctx.stage_keys.setdefault(label, []).extend(key if isinstance(key, list) else [key])
    ctx.facts.pop("metrics_skipped", None)  # a shard's view; presence is decided again on the merged prompts
    ctx.metrics = select.drop_absent_metrics(ctx, select.make_metrics(cfg), examples)
    ctx.checks = shards[0]["summary"].get("checks", {})  # one config, one set of instruments: the same checks
    try:
        with merge_record(shards, out):
            results.run(ctx)
    finally:
        release_memory()
    return out


@contextmanager
def merge_record(shards: list[dict], out: Path):
    """A merged run folder carries what a run folder does: its own ``run.log`` (the merge's log lines, naming the
    shards), and each shard's Hydra configs under ``.hydra/shard-<index>/`` (their own run.log stays in their dir)."""
    import shutil

    for s in shards:
        src = Path(s["dir"]) / ".hydra"
        if src.is_dir():
            dst = out / ".hydra" / f"shard-{s['config'].get('shard', {}).get('index', 0)}"
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
    handler = logging.FileHandler(out / "run.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    log = logging.getLogger("bon")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("bon.merge of %d shards into %s: %s", len(shards), out, ", ".join(str(s["dir"]) for s in shards))
        yield
        log.info("merged; results in %s", out)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        handler.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bon.merge",
        description="Combine the run directories of a sharded bon run (shard.index=0..K-1, shard.count=K) and "
                    "recompute curves, CIs, paired differences, the plot, the report and the W&B run.")
    ap.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="one run directory per shard")
    ap.add_argument("-o", "--out", default=None,
                    help="output run directory (default: <first RUN_DIR's parent>/merged)")
    ap.add_argument("--wandb-group", default=None, help="W&B group of the merged run (default: wandb.group)")
    args = ap.parse_args(argv)
    from bon.config import ConfigError

    out = args.out or str(Path(args.run_dirs[0]).resolve().parent / "merged")
    try:
        merge(args.run_dirs, out, args.wandb_group)
    except (MergeError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(f"results: {out}", flush=True)


if __name__ == "__main__":
    main()
