"""Batch ``POST /v1/leads/batch`` (1 000 leads a request) against the raw limit
(bare Litestar + one ``INSERT … SELECT FROM unnest(…)`` of 1 000 rows).

    .venv/bin/python -m bench.intake_batch [--duration 10] [--concurrency 4]
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
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()

    env = bench_env("kolokol_bench_batch")
    key, _, project = seed()
    auth = {"Authorization": f"Bearer {key}"}

    def items() -> list[dict[str, str]]:
        return [
            {"project_id": project, "phone": phone(next(_phones)), "source": "bench"}
            for _ in range(args.size)
        ]

    def lead_batch(_: int) -> tuple[str, bytes, dict[str, str]]:
        return "/v1/leads/batch", msgspec.json.encode({"items": items()}), auth

    def raw_batch(_: int) -> tuple[str, bytes, dict[str, str]]:
        return "/raw/batch", msgspec.json.encode({"items": items()}), {}

    results: dict[str, Result] = {}
    for name, app, make, factory in (
        ("raw: unnest INSERT of 1 000 rows", RAW_APP, raw_batch, False),
        ("intake POST /v1/leads/batch", INTAKE_APP, lead_batch, True),
    ):
        with serve(app, env, factory=factory) as port:
            asyncio.run(closed_loop(port, make, concurrency=1, duration=2))  # warm up
            results[name] = asyncio.run(
                closed_loop(port, make, concurrency=args.concurrency, duration=args.duration)
            )

    raw = next(iter(results.values()))
    rows = []
    for name, r in results.items():
        p = percentiles(r.latencies)
        rows.append(
            [
                name,
                f"{r.rate * args.size:,.0f}",
                f"{r.rate / raw.rate:.0%}",
                f"{p[50]:.0f} / {p[99]:.0f}",
                ", ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items())),
            ]
        )
    print_table(
        f"batch: {args.size} leads a request, {args.concurrency} connections, "
        f"{args.duration:g}s (one uvicorn worker each)",
        ["endpoint", "leads/s", "of raw", "p50/p99 ms per request", "statuses"],
        rows,
    )


if __name__ == "__main__":
    main()
