"""Run the chaos scenarios and print what each left behind; exit 1 if any lost or duplicated anything.

.venv/bin/python -m chaos                      # all scenarios, 50,000 recipients each
.venv/bin/python -m chaos redis-flush --recipients 10000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys

from bench.harness import machine
from chaos.scenarios import SCENARIOS


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    p.add_argument("--recipients", type=int, default=50_000)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    names = args.scenarios or list(SCENARIOS)
    if len(names) > 1:  # each in a process of its own: settings and connections start afresh
        codes = [
            subprocess.run(
                [sys.executable, "-m", "chaos", name, "--recipients", str(args.recipients)]
            ).returncode
            for name in names
        ]
        return 1 if any(codes) else 0
    print(f"machine: {machine()}", flush=True)
    failed = 0
    for name in names:
        result = await SCENARIOS[name](args.recipients)
        verdict = "PASS" if result.ok else "FAIL"
        failed += not result.ok
        print(f"\n[{verdict}] {result.name} ({name}): {result.seconds:.0f} s", flush=True)
        for line in [*result.notes, str(result.outcome), *result.problems]:
            print(f"  {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
