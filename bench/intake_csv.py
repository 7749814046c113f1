"""CSV import throughput and worker memory, beside the raw unnest-insert limit.

    KOLOKOL_TEST_DB=kolokol_bench_imp KOLOKOL_TEST_REDIS_DB=10 \
        .venv/bin/python -m bench.intake_csv [--rows 100000] [--repeat 3]

Works in a throw-away database (created and migrated like the test suite's). For
each repeat, into a fresh active project:

- raw: ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`` of the same rows,
  1 000 a statement, one transaction each, on a bare asyncpg connection into a
  leads-shaped table with a unique phone index (the floor of what any import does);
- upload: the file streamed into ``intake.import_chunks`` (``imports.start``);
- worker: ``process_import`` in a separate process (the import worker), whose RSS
  is read before processing and its peak (``VmHWM``) after: the growth is what the
  worker needs for the file.

Prints a table of medians and the ratios of the import to the raw limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("KOLOKOL_TEST_DB", "kolokol_bench_imp")
os.environ.setdefault("KOLOKOL_TEST_REDIS_DB", "10")
os.environ.setdefault("KOLOKOL_LOG_LEVEL", "WARNING")

FIRST_NAMES = ["Иван", "Мария", "Пётр", "Анна", "Сергей", "Ольга", "Дмитрий", "Елена"]
CITIES = ["Москва", "Казань", "Екатеринбург", "Новосибирск", "Самара"]


def make_csv(path: Path, rows: int, *, invalid_every: int = 100) -> int:
    """A Windows-1251, ``;`` file like a client's CRM export; returns its size."""
    rnd = random.Random(42)
    with path.open("w", encoding="cp1251", newline="") as out:
        out.write("Телефон;ФИО;Email;Город;Комментарий\r\n")
        for n in range(rows):
            phone = (
                "12-34" if n % invalid_every == 7 else f"+7 (916) {n // 10000:03d}-{n % 10000:04d}"
            )
            name = f"{rnd.choice(FIRST_NAMES)} {n}"
            out.write(
                f"{phone};{name};user{n}@example.test;{rnd.choice(CITIES)};"
                f'"перезвонить после 18:00; спросить про тариф"\r\n'
            )
    return path.stat().st_size


MAPPING = {
    "Телефон": "phone",
    "ФИО": "name",
    "Email": "email",
    "Комментарий": "comment",
}


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# --- the worker process -----------------------------------------------------------------


async def _worker(tenant_id: str, import_id: str) -> dict[str, Any]:
    from services.intake.imports.worker import process_import
    from shared.db.session import dispose_engines

    before = _rss_kib("VmRSS")
    cpu_before = time.process_time()
    started = time.perf_counter()
    status = await process_import(uuid.UUID(tenant_id), uuid.UUID(import_id))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    peak = _rss_kib("VmHWM")
    await dispose_engines()
    return {
        "status": status,
        "seconds": seconds,
        "cpu_s": cpu,
        "rss_before_kib": before,
        "peak_kib": peak,
    }


def worker_main(tenant_id: str, import_id: str) -> None:
    import services.intake.imports.worker  # noqa: F401  (imports before measuring)

    print(json.dumps(asyncio.run(_worker(tenant_id, import_id))))


# --- the bench --------------------------------------------------------------------------


async def _setup_project(tenant_id: uuid.UUID) -> uuid.UUID:
    from services.intake.mirrors.projects import apply_project_update
    from services.intake.mirrors.tenants import apply_tenant_status
    from shared.db.session import STAFF, session_scope
    from shared.messaging.events import ProjectUpdatedV1

    project_id = uuid.uuid4()
    async with session_scope(STAFF) as session:
        await apply_tenant_status(session, tenant_id, "active", datetime.now(UTC))
        await apply_project_update(
            session,
            tenant_id,
            ProjectUpdatedV1(project_id=project_id, status="active", revision=1),
        )
    return project_id


RAW_TABLE = """
CREATE TABLE IF NOT EXISTS public.bench_raw_leads (
    tenant_id uuid NOT NULL, id uuid NOT NULL, project_id uuid NOT NULL,
    phone_e164 text NOT NULL, name text, email text, comment text,
    PRIMARY KEY (tenant_id, id));
CREATE UNIQUE INDEX IF NOT EXISTS bench_raw_leads_phone
    ON public.bench_raw_leads (tenant_id, project_id, phone_e164);
"""

RAW_INSERT = """
INSERT INTO public.bench_raw_leads (tenant_id, id, project_id, phone_e164, name, email, comment)
SELECT $1, id, $2, phone, name, email, comment
FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])
     AS s(id, phone, name, email, comment)
ON CONFLICT DO NOTHING
"""


async def raw_limit(rows: int) -> float:
    """Seconds to insert ``rows`` leads-like rows, 1 000 per unnest statement."""
    import asyncpg

    from shared.config import get_settings
    from shared.ids import new_id

    conn = await asyncpg.connect(get_settings().database_url)
    try:
        await conn.execute(RAW_TABLE)
        tenant, project = uuid.uuid4(), uuid.uuid4()
        batches = []
        for start in range(0, rows, 1000):
            n = range(start, min(start + 1000, rows))
            batches.append(
                (
                    [new_id() for _ in n],
                    [f"+7916{i:07d}" for i in n],
                    [f"Иван {i}" for i in n],
                    [f"user{i}@example.test" for i in n],
                    ["перезвонить после 18:00" for _ in n],
                )
            )
        started = time.perf_counter()
        for ids, phones, names, emails, comments in batches:
            async with conn.transaction():
                await conn.execute(
                    RAW_INSERT, tenant, project, ids, phones, names, emails, comments
                )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def upload(path: Path, project_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, float]:
    from services.intake.imports.cli import _read_file
    from services.intake.imports.service import imports
    from shared.context import SYSTEM
    from shared.db.session import STAFF, session_scope

    started = time.perf_counter()
    async with session_scope(STAFF) as session:
        result = await imports.start(
            session,
            SYSTEM,
            project_id=project_id,
            source=_read_file(path),
            file_name=path.name,
            mapping=MAPPING,
        )
    return result.row.tenant_id, result.row.id, time.perf_counter() - started


async def counts(tenant_id: uuid.UUID, import_id: uuid.UUID) -> dict[str, int]:
    from services.intake.imports import repository as repo
    from shared.db.session import STAFF, session_scope

    async with session_scope(STAFF) as session:
        row = await repo.get(session, import_id, tenant_id)
    assert row is not None
    return {k: getattr(row, k) for k in ("rows_read", "created", "duplicates", "rejected")}


def run_worker(tenant_id: uuid.UUID, import_id: uuid.UUID) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.intake_csv", "--worker", str(tenant_id), str(import_id)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def bench(rows: int, repeat: int) -> None:
    from shared.db.session import dispose_engines

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        size = make_csv(path, rows)
        results: list[dict[str, Any]] = []
        for i in range(repeat):
            raw = await raw_limit(rows)
            tenant_id = uuid.uuid4()
            project_id = await _setup_project(tenant_id)
            tenant_id, import_id, upload_s = await upload(path, project_id)
            worker = await asyncio.to_thread(run_worker, tenant_id, import_id)
            got = await counts(tenant_id, import_id)
            growth_mib = (worker["peak_kib"] - worker["rss_before_kib"]) / 1024
            results.append(
                {
                    "raw_s": raw,
                    "upload_s": upload_s,
                    "worker_s": worker["seconds"],
                    "worker_cpu_s": worker["cpu_s"],
                    "growth_mib": growth_mib,
                    "status": worker["status"],
                    **got,
                }
            )
            print(
                f"run {i + 1}: raw {raw:.2f} s, upload {upload_s:.2f} s, worker"
                f" {worker['seconds']:.2f} s, RSS +{growth_mib:.1f} MiB, {worker['status']}, {got}",
                file=sys.stderr,
            )
        await dispose_engines()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    raw_s, upload_s, worker_s = med("raw_s"), med("upload_s"), med("worker_s")
    total_s = upload_s + worker_s
    print(f"\nCSV import: {rows} rows, {size / 1e6:.1f} MB (cp1251, ';'), median of {repeat}")
    print(f"{'path':<44}{'seconds':>10}{'rows/s':>12}")
    for label, seconds in (
        ("raw: unnest insert, 1 000 rows/statement", raw_s),
        ("import: upload into import_chunks", upload_s),
        ("import: worker (parse, normalise, insert)", worker_s),
        ("import: upload + worker", total_s),
    ):
        print(f"{label:<44}{seconds:>10.2f}{rows / seconds:>12,.0f}")
    print(f"\nworker RSS growth (peak - before): {med('growth_mib'):.1f} MiB (target < 100)")
    cpu_us = med("worker_cpu_s") / rows * 1e6
    print(
        f"worker CPU (its own process): {cpu_us:.0f} us/row ="
        f" {cpu_us * 0.1:.1f} s per 100 000 rows on one free core"
    )
    print(f"100 000-row target: {total_s * 100_000 / rows:.2f} s of 15 s")
    print(
        f"ratio import / raw rows/s: {raw_s / total_s:.2f}  (worker alone {raw_s / worker_s:.2f})"
    )
    last = results[-1]
    print(
        f"last run: {last['status']}, read {last['rows_read']}, created {last['created']},"
        f" duplicates {last['duplicates']}, rejected {last['rejected']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", nargs=2, metavar=("TENANT", "IMPORT"))
    args = parser.parse_args()
    if args.worker:
        worker_main(*args.worker)
        return
    from tests.support.servers import prepare_test_environment

    prepare_test_environment()
    asyncio.run(bench(args.rows, args.repeat))


if __name__ == "__main__":
    main()
