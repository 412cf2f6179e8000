"""Write src/paperfeed/data/arxiv_taxonomy.json from arXiv's own category definitions.

arXiv publishes its taxonomy (groups, archives, categories, aliases, and the old archives
that categories subsumed) in `arxiv/taxonomy/definitions.py` of its `arxiv-base` package.
Installing that package would pull Flask, uWSGI, boto3 and a pinned bleach into the
product for one table of names, so this script reads the file once and writes the data
the product ships. Run it again to follow a newer release:

    .venv/bin/python scripts/arxiv_taxonomy.py [--version 0.17.8] [--wheel path/to.whl]

Without --wheel it downloads the wheel (no dependencies) with pip into a temporary folder.
definitions.py only imports `datetime`, so it is loaded as a plain module from the wheel.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import types
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "paperfeed" / "data" / "arxiv_taxonomy.json"
DEFINITIONS = "arxiv/taxonomy/definitions.py"


def download(version: str, folder: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
    subprocess.run([*pip, "-d", str(folder), f"arxiv-base=={version}"], check=True)
    return next(folder.glob("arxiv_base-*.whl"))


def load_definitions(wheel: Path) -> types.ModuleType:
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read(DEFINITIONS).decode()
    module = types.ModuleType("arxiv_taxonomy_definitions")
    exec(compile(source, f"{wheel.name}/{DEFINITIONS}", "exec"), module.__dict__)
    return module


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def taxonomy(defs: types.ModuleType, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "license": "MIT License, Copyright 2017 Cornell University (arxiv-base)",
        "groups": {
            key: {"name": g["name"], "test": bool(g.get("is_test"))}
            for key, g in sorted(defs.GROUPS.items())
        },
        "archives": {
            key: {
                "name": a["name"],
                "group": a["in_group"],
                "start": _day(a.get("start_date")),
                "end": _day(a.get("end_date")),
            }
            for key, a in sorted(defs.ARCHIVES.items())
        },
        "categories": {
            key: {"name": c["name"], "archive": c["in_archive"], "active": bool(c["is_active"])}
            for key, c in sorted(defs.CATEGORIES.items())
        },
        # alias -> canonical category (math.IT -> cs.IT): a paper in one is in both.
        "aliases": dict(sorted(defs.CATEGORY_ALIASES.items())),
        # defunct archive -> the category that took it over (cmp-lg -> cs.CL).
        "subsumed": dict(sorted(defs.ARCHIVES_SUBSUMED.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="0.17.8", help="arxiv-base release to read")
    parser.add_argument("--wheel", type=Path, help="an arxiv-base wheel already on disk")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download(args.version, Path(tmp))
        version = wheel.name.split("-")[1]
        data = taxonomy(load_definitions(wheel), f"arxiv-base {version} (PyPI), {DEFINITIONS}")
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(
        f"{args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}: "
        f"{len(data['archives'])} archives, {len(data['categories'])} categories "
        f"from {data['source']}"
    )


if __name__ == "__main__":
    main()
