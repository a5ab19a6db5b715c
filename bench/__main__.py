"""Run every benchmark with its default sizes: `.venv/bin/python -m bench [--database ...] [--redis ...]`.

Each one is also a module of its own with sizes to set (`python -m bench.create --help`).
"""

from __future__ import annotations

import subprocess
import sys

SUITE = [
    ["bench.pacing"],
    ["bench.create"],
    ["bench.csv_import"],
    ["bench.wizard"],
    ["bench.import_memory"],
    ["bench.dispatch"],
    ["bench.paced"],
    ["bench.reads"],
    ["bench.memory"],
    ["bench.page_memory"],
]


def main() -> None:
    failed = 0
    for module in SUITE:
        print(f"=== {' '.join(module)} {' '.join(sys.argv[1:])}", flush=True)
        extra = sys.argv[1:] if module != ["bench.pacing"] else []
        failed += subprocess.run([sys.executable, "-m", *module, *extra]).returncode != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
