"""Validate SycophancyEval files and print a summary: ``python -m bon.data [PATH ...] [--fetch-hub DIR]``.

Exit status 0 when every file is valid, 2 with ``PATH:LINE: what is wrong`` otherwise.
"""
from __future__ import annotations

import argparse
import sys

from bon.data.hub import HubUnavailable, fetch
from bon.data.sycophancy_eval import DataError, bundled_dir, load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bon.data", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="files or folders (default: the bundled dataset)")
    ap.add_argument("--fetch-hub", metavar="DIR", help="first download the upstream files from the HF mirror into DIR")
    args = ap.parse_args(argv)
    paths = args.paths or [str(bundled_dir())]
    try:
        if args.fetch_hub:
            paths = [str(fetch(args.fetch_hub))] + args.paths
        ds = load(paths)
    except (DataError, HubUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(ds.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
