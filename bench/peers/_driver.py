"""What the Python peer drivers share (see README.md, "Contract"): the
argument handling, the timed calls and the one-line report. Each driver
supplies `run(url, mode, n, conc)` and its own `echo`."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from typing import Awaitable, Callable


def die(name: str, msg: str) -> None:
    sys.stderr.write(f"{name}: {msg}\n")
    sys.stderr.flush()
    os._exit(1)


def percentile(sorted_vals: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    idx = min(len(sorted_vals) - 1, max(0, math.ceil(p / 100 * len(sorted_vals)) - 1))
    return sorted_vals[idx]


async def timed_calls(echo: Callable[[], Awaitable[None]], n: int, conc: int) -> None:
    """50 warm-up calls, then N calls by CONC workers (N/CONC sequential
    calls each, the first N%CONC one more); prints the report line."""
    for _ in range(50):
        await echo()
    lat: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            t0 = time.perf_counter_ns()
            await echo()
            lat.append((time.perf_counter_ns() - t0) / 1000)

    counts = [n // conc + (1 if w < n % conc else 0) for w in range(conc)]
    start = time.perf_counter_ns()
    await asyncio.gather(*(worker(c) for c in counts))
    wall = (time.perf_counter_ns() - start) / 1e9
    lat.sort()
    out = {"calls": n, "wall_s": wall, "p50_us": round(percentile(lat, 50)), "p99_us": round(percentile(lat, 99))}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def main(name: str, run: Callable[[str, str, int, int], Awaitable[None]]) -> None:
    """`URL cold|calls N CONC` from argv; any failure is exit code 1."""
    args = sys.argv[1:]
    if len(args) < 2 or args[1] not in ("cold", "calls"):
        die(name, f"usage: {name}.py URL cold|calls N CONC")
    url, mode = args[0], args[1]
    try:
        n = int(args[2]) if len(args) > 2 else 1
        conc = int(args[3]) if len(args) > 3 else 1
    except ValueError:
        die(name, f"bad N/CONC: {args[2:]}")
    if n <= 0 or conc <= 0:
        die(name, f"bad N/CONC: {n} {conc}")
    try:
        asyncio.run(run(url, mode, n, conc))
    except BaseException as e:  # noqa: BLE001 - any failure is a non-zero exit
        if isinstance(e, SystemExit):
            raise
        import traceback

        die(name, "".join(traceback.format_exception(e)).rstrip())
