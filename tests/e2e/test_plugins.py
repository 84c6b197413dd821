"""Plugins from outside the package (bon/registry.py): an installed distribution's entry point and a module named in
the ``plugins`` config key each register a metric, and a real run (the bundled model, a tiny selection) puts both in
curves.csv. The "installed distribution" is a folder on PYTHONPATH holding the module and its .dist-info (METADATA,
entry_points.txt): what pip writes, read by the same importlib.metadata lookup, without a network or a venv."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bon.registry import PluginError, Registry, load_plugins

CHARS = '''
"""A metric of the user's own, registered by decorator: characters of the best-of-N pick."""
import numpy as np

from bon.estimator import expected_best_of_n
from bon.metrics import METRICS, Metric
from bon.metrics.base import column_item


@METRICS.register("reply_chars")
class ReplyChars(Metric):
    name = "reply_chars"
    kind = None  # every prompt

    def sample_values(self, examples, texts, judged=None):
        self._check_texts(examples, texts)
        return np.array([[len(t) for t in row] for row in texts], dtype=np.float64)

    def item_curves(self, examples, rewards, values, ns):
        rewards, values = self._check_pool(examples, rewards, values)
        self._reset()
        self._group(examples)
        self.item_ids = {self.name: [column_item(e) for e in examples]}
        return {self.name: expected_best_of_n(rewards, values, ns)}
'''
WORDS = CHARS.replace("ReplyChars", "ReplyWords").replace('"reply_chars"', '"reply_words"').replace(
    "len(t)", "len(t.split())").replace('@METRICS.register("reply_words")\n', "")  # registered by its entry point


def plugin_dirs(tmp_path):
    """(a folder with module my_chars for the plugins key, a folder 'installing' bon_words_plugin by entry point)."""
    own, site = tmp_path / "own", tmp_path / "site"
    own.mkdir()
    site.mkdir()
    (own / "my_chars.py").write_text(CHARS)
    (site / "bon_words_plugin.py").write_text(WORDS)
    dist = site / "bon_words_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bon-words-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bon.metrics]\nreply_words = bon_words_plugin:ReplyWords\n")
    return own, site


def test_registries_find_their_entry_point_group_and_name_broken_plugins(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "ep-0.1.dist-info").mkdir(parents=True)
    (site / "ep-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: ep\nVersion: 0.1\n")
    (site / "ep-0.1.dist-info" / "entry_points.txt").write_text(
        "[bon.things]\nshout = ep_things:Shout\n[bon.gadgets]\nbroken = ep_missing_module\n")
    (site / "ep_things.py").write_text("class Shout:\n    pass\n")
    monkeypatch.syspath_prepend(str(site))
    assert Registry("selector").group == "bon.selectors" and Registry("pm").group == "bon.pms"
    things = Registry("thing")  # no package of its own: entry points only
    assert things.names() == ["shout"] and things.get("shout").__name__ == "Shout"
    with pytest.raises(PluginError, match=r"gadget plugin 'broken' \(entry point 'ep_missing_module' in group "
                                          r"'bon.gadgets'\) failed to load: ModuleNotFoundError"):
        Registry("gadget").names()
    with pytest.raises(PluginError, match=r"plugins: cannot import 'no_such_plugin_mod': not found on the path"):
        load_plugins(["no_such_plugin_mod"])


def test_a_missing_plugin_module_is_a_config_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "bon.run", "plugins=[no_such_plugin_mod]", f"store={tmp_path}/s"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 2 and "error: plugins: cannot import 'no_such_plugin_mod': not found" in r.stderr, r.stderr


def test_plugin_metrics_from_outside_bon_appear_in_curves_csv(tmp_path):
    own, site = plugin_dirs(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(own), str(site), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "bon.run", "plugins=[my_chars]", "sampler=hf", "dataset.max_items=2",
                        "dataset.kinds=[mimicry]", "m=4", "sampler.max_new_tokens=8",
                        "metrics=[reward,reply_chars,reply_words]", "wandb.mode=disabled", "n_boot=50",
                        "progress=false", f"store={tmp_path}/store", f"hydra.run.dir={out}"],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    curves = pd.read_csv(out / "curves.csv")
    assert {"reply_chars", "reply_words"} <= set(curves["metric"])
    samples = pd.read_parquet(out / "samples.parquet")
    # N = 1 is one random sample: the mean over prompts (one per mimicry item) of the mean per-sample value,
    # recomputed here from the replies the run stored
    assert np.array_equal(samples["value/reply_chars"], samples["reply"].str.len())
    chars = samples.assign(c=samples["reply"].str.len()).groupby("key")["c"].mean().mean()
    n1 = curves[(curves.metric == "reply_chars") & (curves.pm == "standard") & (curves.n == 1)]["mean"].item()
    assert n1 == pytest.approx(chars)
    words = samples.assign(w=samples["reply"].str.split().str.len()).groupby("key")["w"].mean().mean()
    assert curves[(curves.metric == "reply_words") & (curves.n == 1)]["mean"].iloc[0] == pytest.approx(words)
    assert json.loads((out / "run.json").read_text())["config"]["plugins"] == ["my_chars"]
