"""The API under load while contracts send: wrk with C connections for D seconds over the read
routes a dashboard polls, against the same load on GET /health (no database work) in the same run.

    .venv/bin/python -m bench.load --connections 64 --seconds 30 --messages 200000
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

import httpx

from bench.harness import Stack, machine, parser, sandbox_contracts
from cli import WORKER

LUA = """
wrk.headers["X-API-Key"] = "{key}"
local paths = {{{paths}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:  # Debian's package; the benchmark installs it like .ci/run installs its tools
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    assert found, "wrk is needed: apt-get install wrk"
    return found


def run_wrk(url: str, script: str, connections: int, seconds: int, tmp) -> dict[str, float]:
    lua = tmp / "load.lua"
    lua.write_text(script)
    args = [wrk_binary(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    result = {"requests": float(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        result[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = float(errors.group(1) if errors else 0) + sum(
        map(int, sockets.groups() if sockets else [])
    )
    result["rps"] = result["requests"] / seconds
    return result


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--messages", type=int, default=200_000, help="sent by 2 workers during the load")
    p.add_argument(
        "--paced", action="store_true", help="accounts keep the default pacing (limits on), as in production"
    )
    args = p.parse_args()
    async with Stack(args.database, args.redis) as stack:
        contracts = await sandbox_contracts(args.messages, 20, use_limits=args.paced)
        url = stack.web()
        for _ in range(2):
            stack.start(WORKER)
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": stack.key}) as http:
            for c in contracts:
                assert (await http.post(f"/api/contracts/{c}/start")).status_code == 200
            sent_before = (await http.get("/api/queues/status")).json()["messages"]["completed"]
            c = contracts[0]
            paths = [
                "/api/queues/status",
                f"/api/contracts/{c}/stats?limit=0",
                f"/api/contracts/{c}",
                f"/api/contracts/{c}/recipients?limit=50",
                "/api/contracts?limit=50",
            ]
            script = LUA.format(key=stack.key, paths=", ".join(f'"{p}"' for p in paths))
            api = await asyncio.to_thread(run_wrk, url, script, args.connections, args.seconds, stack.tmp)
            sent = (await http.get("/api/queues/status")).json()["messages"]["completed"] - sent_before
            health = await asyncio.to_thread(
                run_wrk,
                f"{url}/health",
                LUA.format(key="", paths='"/health"'),
                args.connections,
                10,
                stack.tmp,
            )
    print(f"machine: {machine()}")
    print(
        f"{args.connections} connections for {args.seconds} s on 5 API read routes ({args.database}), "
        f"while 2 workers sent {sent:,} messages ({sent / args.seconds:,.0f}/s) for 20 accounts, "
        f"limits {'on' if args.paced else 'off'}:"
    )
    print(
        f"  API: {api['rps']:,.0f} req/s, p50 {api['p50']:.1f} ms, p99 {api['p99']:.1f} ms, "
        f"errors {api['errors']:.0f}"
    )
    print(
        f"  baseline GET /health, same connections, same sending: {health['rps']:,.0f} req/s, "
        f"p50 {health['p50']:.1f} ms, p99 {health['p99']:.1f} ms; API p99 / health p99 = "
        f"{api['p99'] / health['p99']:.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
