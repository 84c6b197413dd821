"""A stage found finished in the store says "reused" instead of drawing an empty 0/n progress bar."""
import logging

import pandas as pd
from omegaconf import OmegaConf

from bon import store as st
from bon.stages.base import Stage
from bon.stages.context import Context

STAGE = Stage("test_reused_stage", 1, ("key", "value"))


def test_a_finished_stage_says_reused_and_draws_no_bar(tmp_path, capsys, caplog):
    cfg = OmegaConf.create({"progress": True, "chunk_prompts": 2})
    items = ["a", "b", "c"]
    calls = []

    def compute(chunk):
        calls.append(list(chunk))
        return pd.DataFrame({"key": list(chunk), "value": [len(x) for x in chunk]}), {}

    def run():
        ctx = Context(cfg, [1], st.Store(tmp_path / "store"), tmp_path)
        with caplog.at_level(logging.INFO, logger="bon"):
            STAGE.run(ctx, "stage[x]", {"what": 1}, items, compute)
        return ctx

    first = run()
    bar = capsys.readouterr().err
    assert "stage[x]" in bar and "3/3" in bar and first.reused == []  # computed: a bar over the prompts
    assert not any("reused" in r.getMessage() for r in caplog.records)
    caplog.clear()
    second = run()
    out = capsys.readouterr().err
    assert second.reused == ["stage[x]"] and len(calls) == 2  # no chunk computed again
    assert "0/3" not in out and "stage[x]" not in out  # no bar at all
    assert any(r.getMessage().startswith("stage[x]: reused from the store (3 prompts, key ") for r in caplog.records)


def test_stored_checks_say_they_are_reused(tmp_path, caplog):
    """The PM probe found in the check store (keyed by the PM's identity, the variant and the labels' digest) is
    read back, and the log says so; a check not there would say it is being computed."""
    import json

    from hydra import compose, initialize_config_module

    from bon.config import CONF_PACKAGE, register_configs
    from bon.stages import check, score

    register_configs()
    with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=demo", f"store={tmp_path}/store",
                                                       f"check_store={tmp_path}/checks"])
    _, digest = check.labels("pm")
    for name, v in score.variants_of(cfg).items():
        path = tmp_path / "checks" / "check" / check.STAGE.key(check.pm_check_spec(cfg, v, digest)) / "result.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"accuracy": 0.5}))
    ctx = Context(cfg, [1, 2], st.Store(cfg.store), tmp_path / "run")
    with caplog.at_level(logging.INFO, logger="bon"):
        assert set(check.check_stage(ctx, [], [])["pm"]) == {"standard", "non_sycophantic"}
    assert any(r.getMessage().startswith("PM probe of standard, non_sycophantic: reused from the check store")
               for r in caplog.records)
    assert not any("computing" in r.getMessage() for r in caplog.records)
