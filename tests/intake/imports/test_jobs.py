"""The imports' periodic jobs and actor: resume lost imports, erase old rejected rows."""

from __future__ import annotations

import uuid

import redis.asyncio as redis_async

from services.intake.actors import QUEUE, handle
from services.intake.jobs import purge_import_errors, resume_imports
from shared.config import get_settings
from tests.intake.conftest import World, fresh_phone, rows
from tests.intake.imports.test_imports import csv_bytes, upload
from tests.support.clients import ApiClient


async def queued_import_ids() -> set[str]:
    client = redis_async.Redis.from_url(get_settings().redis_url)
    try:
        messages = await client.hvals(f"dramatiq:{QUEUE}.msgs")
    finally:
        await client.aclose()
    return {m.decode("utf-8", "replace") if isinstance(m, bytes) else m for m in messages}


async def age(import_id: str, *, minutes: int = 5, finished_days: int | None = None) -> None:
    sets = "updated_at = now() - make_interval(mins => :u)"
    if finished_days:
        sets += ", finished_at = now() - make_interval(days => :f)"
    await rows(
        f"update intake.imports set {sets} where id = :i returning id",
        u=minutes,
        f=finished_days,
        i=uuid.UUID(import_id),
    )


class TestEnqueue:
    async def test_an_accepted_upload_is_sent_to_the_import_workers(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        r = await upload(
            api_client(token=world_a.key_text),
            world_a.project_id,
            csv_bytes(["phone"], [[fresh_phone()]]),
        )
        assert r.status_code == 202
        messages = [m for m in await queued_import_ids() if r.json()["id"] in m]
        assert len(messages) == 1
        assert '"actor_name":"intake.process_import"' in messages[0].replace(" ", "")


class TestResumeJob:
    async def test_a_stale_unfinished_import_is_sent_again_and_finishes(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        client = api_client(token=world_a.key_text)
        r = await upload(client, world_a.project_id, csv_bytes(["phone"], [[fresh_phone()]]))
        import_id = r.json()["id"]
        await age(import_id)

        summary = await resume_imports()

        assert summary["resumed"] >= 1  # type: ignore[index]
        assert any(import_id in m for m in await queued_import_ids())
        fresh = await rows(
            "select updated_at > now() - interval '1 minute' as touched"
            " from intake.imports where id = :i",
            i=uuid.UUID(import_id),
        )
        assert fresh[0]["touched"]
        await handle(str(world_a.id), import_id)
        r = await client.get(f"/v1/imports/{import_id}")
        assert (r.json()["status"], r.json()["created"]) == ("done", 1)

    async def test_a_fresh_queued_import_is_left_alone(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        r = await upload(
            api_client(token=world_a.key_text),
            world_a.project_id,
            csv_bytes(["phone"], [[fresh_phone()]]),
        )
        before = await queued_import_ids()
        await resume_imports()
        after = await queued_import_ids()
        assert not any(r.json()["id"] in m for m in after - before)


class TestPurgeJob:
    async def test_rejected_rows_are_erased_30_days_after_the_import(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        client = api_client(token=world_a.key_text)
        old = await upload(client, world_a.project_id, csv_bytes(["phone"], [["nonsense 1"]]))
        new = await upload(client, world_a.project_id, csv_bytes(["phone"], [["nonsense 2"]]))
        for r in (old, new):
            await handle(str(world_a.id), r.json()["id"])
        await age(old.json()["id"], minutes=31 * 24 * 60, finished_days=31)

        await purge_import_errors()

        left = await rows(
            "select import_id from intake.import_errors where import_id = any(:ids)",
            ids=[uuid.UUID(old.json()["id"]), uuid.UUID(new.json()["id"])],
        )
        assert [str(r["import_id"]) for r in left] == [new.json()["id"]]
        r = await client.get(f"/v1/imports/{old.json()['id']}")
        assert r.json()["rejected"] == 1
