"""The overlay of several runs (scripts/plot_curves.py, bon/report/plot.py): a line that is the same numbers in every
run (a sweep's reference variant) is drawn once, and the legend of long "<run>:<pm>" labels is not cut off."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bon.report import plot_curves

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from plot_curves import shared_once  # noqa: E402


def _run(label, standard_shift, metrics=("reward", "answer_sycophancy")):
    rows = []
    for metric in metrics:
        for pm, shift in (("standard", standard_shift), ("non_sycophantic", 0.0), ("standard_unbiased", 0.0)):
            for n in (1, 2, 4):
                mean = 0.1 * n + shift * (n > 1)
                rows.append({"metric": metric, "pm": pm, "n": n, "kl": 0.0, "mean": mean, "ci_low": mean - 0.05,
                             "ci_high": mean + 0.05, "n_items": 8})
    df = pd.DataFrame(rows)
    return df.assign(run=label, label=label + ":" + df["pm"])


def test_a_line_equal_in_every_run_is_kept_once():
    frames = [_run("standard w[agree]=0", 0.0), _run("standard w[agree]=2", 0.3), _run("standard w[agree]=5", 0.5)]
    curves, shared = shared_once(frames)
    assert shared == ["non_sycophantic", "standard_unbiased"]
    labels = list(dict.fromkeys(curves["label"]))
    assert labels == ["standard w[agree]=0:standard", "standard w[agree]=2:standard", "standard w[agree]=5:standard",
                      "non_sycophantic (every run)", "standard_unbiased (every run)"]
    assert len(curves[curves["label"] == "non_sycophantic (every run)"]) == 6  # one copy: 2 metrics x 3 N
    frames[1].loc[frames[1]["pm"] == "non_sycophantic", "mean"] += 0.01  # differs in one run: kept per run
    _, shared = shared_once(frames)
    assert shared == ["standard_unbiased"]
    one, none = shared_once(frames[:1])
    assert none == [] and len(one) == len(frames[0])


def test_the_overlay_legend_is_not_cut_off(tmp_path):
    """Eight long labels: the legend wraps into rows inside the figure, so the PNG's edge columns stay blank (a
    legend wider than the figure ran off both edges)."""
    import matplotlib.image as mpimg

    frames = [_run(f"sampler.temperature=0.{i} seed={i} variants.standard.bias.agree={i}", 0.1 * i) for i in range(4)]
    curves, _ = shared_once(frames)
    out = plot_curves(curves, tmp_path / "overlay.png", label_col="label", color_col="run", style_col="pm")
    img = mpimg.imread(out)[..., :3]
    assert np.all(img[:, :3] > 0.99) and np.all(img[:, -3:] > 0.99), "something is drawn up to the figure's edge"
    assert np.any(img[-img.shape[0] // 8:] < 0.5)  # the legend is there, at the bottom
