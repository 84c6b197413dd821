"""scripts/screenshot_report.py (README's docs/report.png): a real report.html, written by the real results step on
the stored planted pool (tests/planted.py), photographed in Debian's headless Chromium with a variant chosen, its
top-ranked samples only and the table sorted by grade. Skips without chromium (fails under CI, see tests/browser.py).
"""
import subprocess
import sys
from pathlib import Path

import pytest

from bon.judges import checks
from browser import need_browser
from planted import load_pool

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pool():
    return load_pool(partner=True)


def test_screenshot_of_the_sample_table_as_written(tmp_path, pool):
    need_browser()
    from PIL import Image
    from test_gate import answer_labels, run_results

    run_dir = run_results(tmp_path, pool, checks.check_answer(answer_labels("ok"), "string").as_dict())
    out = tmp_path / "docs" / "report.png"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot_report.py"), str(run_dir), "-o", str(out),
                        "--variant", "standard", "--top", "--sort", "grade", "--width", "1200", "--height", "800"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size < 300 * 1024 and f"{out}:" in r.stdout
    img = Image.open(out)
    assert img.mode == "P" and img.width == 1200  # a palette PNG of the window's width
    assert len(img.getcolors(256)) > 8  # a drawn table, not a blank page
    with pytest.raises(subprocess.CalledProcessError):  # a column head that does not exist is an error, not a photo
        subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot_report.py"), str(run_dir), "-o",
                        str(tmp_path / "x.png"), "--sort", "no such column"], check=True, capture_output=True,
                       timeout=300)
