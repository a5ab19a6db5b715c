"""/health while visitors without a key attack the web process: half-sent requests held open and
huge headers. Prints /health's latency before and during the attack (the ratio is the figure), how
many half-sent connections the server still holds after its read timeout, and the web process's RSS.

    .venv/bin/python -m bench.hostile [--database sqlite] [--held 305] [--huge 2]
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import threading
import time

import httpx
import psutil

from bench.harness import Stack, machine, parser

HEADER_MIB = 100


TIMEOUT_S = 10


def _latencies(url: str, n: int, for_s: float = float("inf")) -> list[float]:
    """Milliseconds per /health request (n of them, or as many as fit in for_s); one that gets no
    answer in TIMEOUT_S counts as that long."""
    out = []
    until = time.monotonic() + for_s
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as http:
        while len(out) < n and time.monotonic() < until:
            start = time.perf_counter()
            with contextlib.suppress(httpx.TimeoutException):
                http.get("/health")
            out.append((time.perf_counter() - start) * 1000)
    return out


def _p99(ms: list[float]) -> float:
    return sorted(ms)[int(len(ms) * 0.99) - 1]


def _summary(ms: list[float]) -> str:
    return f"p50 {statistics.median(ms):.1f} ms, p99 {_p99(ms):.1f} ms"


def _half_sent(host: str, port: int, n: int) -> list[socket.socket]:
    held = []
    for i in range(n):
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"POST /api/contracts HTTP/1.1\r\n")
        held.append(sock)
    return held


def _huge_headers(host: str, port: int, stop: threading.Event, sent: list[int]) -> None:
    """Send 100 MiB header values, 1 MiB at a time, again whenever the server hangs up."""
    chunk = b"a" * 2**20
    while not stop.is_set():
        try:
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(HEADER_MIB):
                    if stop.is_set():
                        return
                    sock.sendall(chunk)
                    sent[0] += len(chunk)
                sock.sendall(b"\r\n\r\n")
                sock.recv(100)
        except OSError:
            time.sleep(0.05)


def _still_open(held: list[socket.socket]) -> int:
    open_ = 0
    for sock in held:
        sock.setblocking(False)
        try:
            open_ += sock.recv(1) != b""
        except BlockingIOError:
            open_ += 1
        except OSError:
            pass
    return open_


async def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--held", type=int, default=305)
    p.add_argument("--huge", type=int, default=2)
    p.add_argument("--requests", type=int, default=300)
    args = p.parse_args()
    print(machine())
    async with Stack(args.database, args.redis) as stack:
        url = stack.web()
        host, port = url.removeprefix("http://").split(":")
        web = psutil.Process(stack.processes[-1].proc.pid)
        await asyncio.to_thread(_latencies, url, 50)  # warm up
        idle_rss = web.memory_info().rss
        baseline = await asyncio.to_thread(_latencies, url, args.requests)
        print(f"/health, nothing else:           {_summary(baseline)}")

        held = _half_sent(host, int(port), args.held)
        stop = threading.Event()
        sent = [0]
        attackers = [
            threading.Thread(target=_huge_headers, args=(host, int(port), stop, sent))
            for _ in range(args.huge)
        ]
        for t in attackers:
            t.start()
        peak = idle_rss
        attacked: list[float] = []
        started = time.monotonic()
        while (left := 15 - (time.monotonic() - started)) > 0:
            attacked += await asyncio.to_thread(_latencies, url, 20, left)
            peak = max(peak, web.memory_info().rss)
        stop.set()
        for t in attackers:
            t.join()
        ratio = _p99(attacked) / _p99(baseline)
        print(f"/health, {args.held} half-sent + {args.huge}×{HEADER_MIB} MiB headers: {_summary(attacked)}")
        print(f"p99 during the attack / p99 before: {ratio:.2f}")
        print(f"header MiB the attackers wrote in 15 s (reconnecting when refused): {sent[0] / 2**20:.0f}")
        print(f"half-sent connections still open after 15 s: {_still_open(held)} of {len(held)}")
        grown = (peak - idle_rss) / 2**20
        print(f"web RSS: idle {idle_rss / 2**20:.0f} MiB, peak during the attack +{grown:.0f} MiB")
        for sock in held:
            sock.close()


if __name__ == "__main__":
    asyncio.run(main())
