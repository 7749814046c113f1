"""Single ``POST /v1/leads`` against the raw limit (bare Litestar + one asyncpg INSERT).

    .venv/bin/python -m bench.intake_single [--duration 10] [--concurrency 32]

Prints throughput (closed loop, ``--concurrency`` connections) and latency at a fixed
500 requests/s (open loop) for intake and for the raw endpoint, run in the same
process order on the same machine, and intake's share of the raw figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools

import msgspec

from bench._common import (
    INTAKE_APP,
    RAW_APP,
    Result,
    bench_env,
    closed_loop,
    open_loop,
    percentiles,
    phone,
    print_table,
    seed,
    serve,
)

_phones = itertools.count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--idempotency", action="store_true", help="send Idempotency-Key")
    args = parser.parse_args()

    env = bench_env("kolokol_bench_single")
    key, _, project = seed()
    auth = {"Authorization": f"Bearer {key}"}

    def lead(_: int) -> tuple[str, bytes, dict[str, str]]:
        n = next(_phones)
        body = msgspec.json.encode({"project_id": project, "phone": phone(n), "source": "bench"})
        headers = {**auth, "Idempotency-Key": f"bench-{n}"} if args.idempotency else auth
        return "/v1/leads", body, headers

    def raw(_: int) -> tuple[str, bytes, dict[str, str]]:
        body = msgspec.json.encode({"project_id": project, "phone": phone(next(_phones))})
        return "/raw", body, {}

    results: dict[str, tuple[Result, Result]] = {}
    for name, app, make, factory in (
        ("raw: Litestar + 1 asyncpg INSERT", RAW_APP, raw, False),
        ("intake POST /v1/leads", INTAKE_APP, lead, True),
    ):
        with serve(app, env, factory=factory) as port:
            asyncio.run(closed_loop(port, make, concurrency=8, duration=2))  # warm up
            throughput = asyncio.run(
                closed_loop(port, make, concurrency=args.concurrency, duration=args.duration)
            )
            fixed = asyncio.run(open_loop(port, make, rate=args.rate, duration=args.duration))
        results[name] = (throughput, fixed)

    raw_tp, raw_fixed = next(iter(results.values()))
    rows = []
    for name, (tp, fixed) in results.items():
        p = percentiles(fixed.latencies)
        pt = percentiles(tp.latencies)
        rows.append(
            [
                name,
                f"{tp.rate:,.0f}",
                f"{tp.rate / raw_tp.rate:.0%}",
                f"{pt[50]:.1f} / {pt[99]:.1f}",
                f"{fixed.rate:,.0f}",
                f"{p[50]:.1f} / {p[95]:.1f} / {p[99]:.1f}",
                f"{p[99] / percentiles(raw_fixed.latencies)[99]:.1f}x",
                ", ".join(f"{k}:{v}" for k, v in sorted({**tp.statuses}.items())),
            ]
        )
    print_table(
        f"single lead: {args.concurrency} connections for {args.duration:g}s, then "
        f"{args.rate:g} req/s open loop (one uvicorn worker each)",
        [
            "endpoint",
            "req/s",
            "of raw",
            "p50/p99 ms (max load)",
            f"req/s @{args.rate:g}",
            "p50/p95/p99 ms",
            "p99 vs raw",
            "statuses",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
