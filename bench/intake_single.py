"""Single ``POST /v1/leads`` against the raw limit (bare Litestar + one asyncpg INSERT).

    .venv/bin/python -m bench.intake_single [--duration 10] [--concurrency 32]

Prints throughput (closed loop, ``--concurrency`` connections, in ``--rounds`` slices
alternating between raw and intake, both served at once; driven by ``wrk`` when
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
_SOURCE = ',\\"source\\":\\"bench\\"'  # spliced into the wrk script's JSON body


def _median(results: list[Result | WrkResult]) -> Result | WrkResult:
    """The slice with the median rate."""
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


def _ratios(ratios: list[float]) -> str:
    """Median of the per-slice ratios and their spread."""
    ordered = sorted(ratios)
    return f"{ordered[len(ordered) // 2]:.0%} ({ordered[0]:.0%} to {ordered[-1]:.0%})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--idempotency", action="store_true", help="send Idempotency-Key")
    parser.add_argument("--rounds", type=int, default=4, help="alternating throughput slices")
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

    endpoints = (
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
    results: dict[str, tuple[Result | WrkResult, Result]] = {}
    with serve(RAW_APP, env, factory=False) as raw_port, serve(INTAKE_APP, env) as intake_port:
        ports = {endpoints[0][0]: raw_port, endpoints[1][0]: intake_port}
        rounds: dict[str, list[Result | WrkResult]] = {name: [] for name, *_ in endpoints}
        for name, _, make, *_ in endpoints:
            asyncio.run(closed_loop(ports[name], make, concurrency=8, duration=2))  # warm up
        # Throughput in alternating slices (raw, intake, raw, intake…): the machine's speed
        # drifts by a quarter within minutes, so each ratio compares neighbouring slices.
        for r in range(args.rounds):
            for index, (name, _, make, _, path, headers, extra) in enumerate(endpoints):
                slice_s = args.duration / args.rounds
                if WRK is not None:
                    # phones of slice k from 2 000 000 + k * 200 000 (seven digits; the
                    # asyncio client's stay under 2 000 000)
                    first = 2_000_000 + (r * len(endpoints) + index) * 200_000
                    script = wrk_script(path, headers, extra, first)
                    rounds[name].append(
                        wrk_closed_loop(
                            ports[name], script, concurrency=args.concurrency, duration=slice_s
                        )
                    )
                else:
                    rounds[name].append(
                        asyncio.run(
                            closed_loop(
                                ports[name], make, concurrency=args.concurrency, duration=slice_s
                            )
                        )
                    )
        for name, _, make, *_ in endpoints:
            fixed = asyncio.run(
                open_loop(ports[name], make, rate=args.rate, duration=args.duration)
            )
            results[name] = (_median(rounds[name]), fixed)
    ratios = [
        ours.rate / theirs.rate
        for ours, theirs in zip(rounds[endpoints[1][0]], rounds[endpoints[0][0]], strict=True)
    ]

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
                f"{tp.rate / raw_tp.rate:.0%}" if tp is raw_tp else _ratios(ratios),
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
        f"single lead: {args.concurrency} connections, {args.rounds} alternating slices of"
        f" {args.duration / args.rounds:g}s each ({client}; median slice), then "
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
