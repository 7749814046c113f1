"""Single ``POST /v1/leads`` against the raw limit (bare Litestar + one asyncpg INSERT).

    .venv/bin/python -m bench.intake_single [--duration 10] [--concurrency 32]

Prints throughput (closed loop, ``--concurrency`` connections; driven by ``wrk`` when
installed, else by the asyncio client) and latency at a fixed 500 requests/s (open
loop, the asyncio client) for intake and for the raw endpoint, run in the same process
order on the same machine, and intake's share of the raw figures. Every request
carries a phone never sent before (a new lead each time).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools

import msgspec

from bench._common import (
    INTAKE_APP,
    RAW_APP,
    WRK,
    Result,
    WrkResult,
    bench_env,
    closed_loop,
    lua_string,
    open_loop,
    percentiles,
    phone,
    print_table,
    seed,
    serve,
    wrk_closed_loop,
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

    def wrk_script(path: str, headers: dict[str, str], extra: str, first: int) -> str:
        """Bodies like ``lead`` / ``raw``: a fresh phone per request, numbered from ``first``."""
        fields = "".join(f"[{lua_string(k)}]={lua_string(v)}," for k, v in headers.items())
        return (
            f"local n = {first}\n"
            "request = function()\n"
            "  n = n + 1\n"
            f'  local body = \'{{"project_id":"{project}","phone":"+7916\' ..'
            f" string.format('%07d', n) .. '\"{extra}}}'\n"
            f"  return wrk.format('POST', {lua_string(path)},"
            f" {{['Content-Type']='application/json',{fields}}}, body)\n"
            "end\n"
        )

    results: dict[str, tuple[Result | WrkResult, Result]] = {}
    for index, (name, app, make, factory, path, headers, extra) in enumerate(
        (
            ("raw: Litestar + 1 asyncpg INSERT", RAW_APP, raw, False, "/raw", {}, ""),
            (
                "intake POST /v1/leads",
                INTAKE_APP,
                lead,
                True,
                "/v1/leads",
                auth,
                ',\\"source\\":\\"bench\\"',
            ),
        )
    ):
        with serve(app, env, factory=factory) as port:
            asyncio.run(closed_loop(port, make, concurrency=8, duration=2))  # warm up
            throughput: Result | WrkResult
            if WRK is not None:
                script = wrk_script(path, headers, extra, 5_000_000 + index * 2_000_000)
                throughput = wrk_closed_loop(
                    port, script, concurrency=args.concurrency, duration=args.duration
                )
            else:
                throughput = asyncio.run(
                    closed_loop(port, make, concurrency=args.concurrency, duration=args.duration)
                )
            fixed = asyncio.run(open_loop(port, make, rate=args.rate, duration=args.duration))
        results[name] = (throughput, fixed)

    raw_tp, raw_fixed = next(iter(results.values()))
    rows = []
    for name, (tp, fixed) in results.items():
        p = percentiles(fixed.latencies)
        if isinstance(tp, WrkResult):
            loaded = f"{tp.p50_ms:.1f} / {tp.p99_ms:.1f}"
            statuses = f"non-2xx:{tp.errors} of {tp.requests}"
        else:
            pt = percentiles(tp.latencies)
            loaded = f"{pt[50]:.1f} / {pt[99]:.1f}"
            statuses = ", ".join(f"{k}:{v}" for k, v in sorted(tp.statuses.items()))
        rows.append(
            [
                name,
                f"{tp.rate:,.0f}",
                f"{tp.rate / raw_tp.rate:.0%}",
                loaded,
                f"{fixed.rate:,.0f}",
                f"{p[50]:.1f} / {p[95]:.1f} / {p[99]:.1f}",
                f"{p[99] / percentiles(raw_fixed.latencies)[99]:.1f}x",
                statuses,
                ", ".join(f"{k}:{v}" for k, v in sorted(fixed.statuses.items())),
            ]
        )
    client = "wrk" if WRK is not None else "asyncio client"
    print_table(
        f"single lead: {args.concurrency} connections for {args.duration:g}s ({client}), then "
        f"{args.rate:g} req/s open loop (one uvicorn worker each)",
        [
            "endpoint",
            "req/s",
            "of raw",
            "p50/p99 ms (max load)",
            f"req/s @{args.rate:g}",
            "p50/p95/p99 ms",
            "p99 vs raw",
            "statuses (max load)",
            f"statuses @{args.rate:g}",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
