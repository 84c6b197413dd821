"""Screenshot of a run's report.html in headless Chromium (Debian's chromium and chromium-driver, via selenium, as
tests/browser.py drives it): the sample table with one variant chosen, optionally only its top-ranked samples,
sorted by a column; saved as a palette PNG so it stays small enough for the README (docs/report.png).

    python scripts/screenshot_report.py RUN_DIR -o docs/report.png --variant standard --top --sort grade
"""
from __future__ import annotations

import argparse
import io
import shutil
import tempfile
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")


def screenshot(run_dir: Path, out: Path, variant: str | None, kind: str | None, top: bool, sort: str | None,
               width: int, height: int, colors: int) -> int:
    """Write the screenshot; returns its size in bytes."""
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    profile = tempfile.mkdtemp(prefix="bon-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for f in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(f)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        d.get((run_dir / "report.html").resolve().as_uri())
        if kind:
            Select(d.find_element(By.ID, "f-kind")).select_by_value(kind)
        if variant:
            Select(d.find_element(By.ID, "f-variant")).select_by_value(variant)
        if top:
            d.find_element(By.ID, "f-top").click()
        if sort:  # a click on a column head sorts by it, descending first
            d.find_element(By.XPATH, f"//th[starts-with(text(), '{sort}')]").click()
        d.execute_script("document.getElementById('samples').scrollIntoView();")
        png = d.get_screenshot_as_png()
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=colors)  # a page is few colours: palette PNG
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, optimize=True)
    return out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="a run folder holding report.html")
    ap.add_argument("-o", "--out", type=Path, default=Path("docs/report.png"))
    ap.add_argument("--variant", help="the PM variant whose ranks and P(pick) the table shows")
    ap.add_argument("--kind", help="only this prompt kind (answer, feedback, mimicry, are_you_sure)")
    ap.add_argument("--top", action="store_true", help="only the variant's top-ranked samples (needs --variant)")
    ap.add_argument("--sort", help="the column head to sort by (e.g. grade, reward)")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--colors", type=int, default=128, help="palette size of the saved PNG")
    a = ap.parse_args(argv)
    size = screenshot(a.run_dir, a.out, a.variant, a.kind, a.top, a.sort, a.width, a.height, a.colors)
    print(f"{a.out}: {size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
