# ruff: noqa: RUF001  (Cyrillic test data is the point)
"""CSV imports end to end: upload, worker batches, progress, rejected rows, resumption."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec

from services.intake.imports.cli import import_file, render_summary
from services.intake.imports.worker import process_import
from tests.intake.conftest import World, fresh_landline, fresh_phone, make_project, rows
from tests.support.clients import ApiClient


def csv_bytes(
    header: list[str], body: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8"
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(body)
    return buffer.getvalue().encode(encoding)


async def upload(
    client: httpx.AsyncClient,
    project_id: uuid.UUID,
    data: bytes,
    *,
    mapping: dict[str, str] | None = None,
    force: bool = False,
    name: str = "leads.csv",
) -> httpx.Response:
    form: dict[str, Any] = {"project_id": str(project_id)}
    if mapping is not None:
        form["mapping"] = msgspec.json.encode(mapping).decode()
    if force:
        form["force"] = "true"
    return await client.post("/v1/imports", data=form, files={"file": (name, data, "text/csv")})


async def run(world: World, import_id: str, **kw: Any) -> str:
    return await process_import(world.id, uuid.UUID(import_id), **kw)


async def leads_of(world: World, import_id: str) -> list[dict[str, Any]]:
    return await rows(
        "select * from intake.leads where tenant_id = :t and received_by = :actor"
        " order by phone_e164",
        t=world.id,
        actor=f"import:{import_id}",
    )


class TestUpload:
    async def test_utf8_comma_file_imports(self, api_client: ApiClient, world_a: World) -> None:
        phones = [fresh_phone() for _ in range(3)]
        data = csv_bytes(
            ["phone", "name", "email", "Город"],
            [[p, f"Иван {i}", f"ivan{i}@example.test", "Казань"] for i, p in enumerate(phones)],
        )
        client = api_client(token=world_a.key_text)

        r = await upload(client, world_a.project_id, data)

        assert r.status_code == 202, r.text
        body = r.json()
        assert r.headers["location"] == f"/v1/imports/{body['id']}"
        assert body["status"] == "queued"
        assert (body["encoding"], body["delimiter"]) == ("utf-8", ",")
        assert body["rows_estimate"] == 3
        assert await run(world_a, body["id"]) == "done"
        r = await client.get(f"/v1/imports/{body['id']}")
        assert r.status_code == 200
        progress = {
            k: r.json()[k] for k in ("status", "rows_read", "created", "duplicates", "rejected")
        }
        assert progress == {
            "status": "done",
            "rows_read": 3,
            "created": 3,
            "duplicates": 0,
            "rejected": 0,
        }
        stored = await leads_of(world_a, body["id"])
        assert {s["name"] for s in stored} == {"Иван 0", "Иван 1", "Иван 2"}
        assert {s["fields"]["Город"] for s in stored} == {"Казань"}
        assert len(stored) == 3
        events = await rows(
            "select count(*) as n from intake.outbox where event_type = 'lead.received'"
            " and payload->>'lead_id' = any(:ids)",
            ids=[str(s["id"]) for s in stored],
        )
        assert events[0]["n"] == 3
        assert (
            await rows(
                "select * from intake.import_chunks where import_id = :i", i=uuid.UUID(body["id"])
            )
            == []
        )

    async def test_windows_1251_semicolon_with_mapping(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        phones = [fresh_landline(), fresh_phone()]
        data = csv_bytes(
            ["Телефон", "ФИО", "Комментарий", "Лишнее"],
            [
                [phones[0], "Пётр Сидоров", "перезвонить; после 18", "x"],
                [phones[1], "Анна Ёлкина", "", "y"],
            ],
            delimiter=";",
            encoding="cp1251",
        )
        mapping = {"Телефон": "phone", "ФИО": "name", "Комментарий": "comment", "Лишнее": "skip"}
        client = api_client(token=world_a.user_token)

        r = await upload(client, world_a.project_id, data, mapping=mapping)

        assert r.status_code == 202, r.text
        body = r.json()
        assert (body["encoding"], body["delimiter"]) == ("cp1251", ";")
        assert body["columns"] == ["Телефон", "ФИО", "Комментарий", "Лишнее"]
        assert body["mapping"] == mapping
        assert await run(world_a, body["id"]) == "done"
        stored = {s["name"]: s for s in await leads_of(world_a, body["id"])}
        assert set(stored) == {"Пётр Сидоров", "Анна Ёлкина"}
        assert stored["Пётр Сидоров"]["comment"] == "перезвонить; после 18"
        assert stored["Пётр Сидоров"]["timezone"] == "Europe/Moscow"
        assert stored["Анна Ёлкина"]["fields"] is None

    async def test_bad_rows_are_listed_with_reasons(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        good = fresh_phone()
        data = csv_bytes(
            ["phone", "email", "name"],
            [
                [good, "ok@example.test", "Хороший"],
                ["12345", "", "Плохой телефон"],
                [fresh_phone(), "not-an-email", "Плохая почта"],
                ["", "", ""],
                [fresh_phone(), "", "Я" * 300],
            ],
            delimiter=";",
        )
        client = api_client(token=world_a.key_text)
        r = await upload(client, world_a.project_id, data)
        import_id = r.json()["id"]
        await run(world_a, import_id)

        r = await client.get(f"/v1/imports/{import_id}")
        assert {k: r.json()[k] for k in ("rows_read", "created", "rejected")} == {
            "rows_read": 4,
            "created": 1,
            "rejected": 3,
        }
        r = await client.get(f"/v1/imports/{import_id}/errors")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        text = r.content.decode("utf-8-sig")
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        assert table[0] == ["row", "errors", "phone", "email", "name"]
        assert [(t[0], t[4][:6]) for t in table[1:]] == [
            ("2", "Плохой"),
            ("3", "Плохая"),
            ("5", "ЯЯЯЯЯЯ"),
        ]
        assert "phone: not a valid number for region RU (invalid_phone)" in table[1][1]
        assert "email:" in table[2][1]
        assert "(invalid_email)" in table[2][1]
        assert table[3][1].startswith("name:")

    async def test_rows_with_nul_or_undecodable_bytes_are_rejected_and_the_rest_imported(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        """A NUL (PostgreSQL text cannot hold one) or bytes that are not text in the file's
        encoding (0x98 has no character in Windows-1251) reject their row with a reason;
        the import is done at the first run, not retried until it gives up."""
        good = [fresh_phone(), fresh_phone()]
        data = b"\r\n".join(
            [
                "phone;name".encode("cp1251"),
                f"{good[0]};Пётр".encode("cp1251"),
                f"{fresh_phone()};Иван\x00".encode("cp1251"),
                f"{fresh_phone()};".encode("cp1251") + b"\x98",
                f"{good[1]};Анна".encode("cp1251"),
            ]
        )
        client = api_client(token=world_a.key_text)
        r = await upload(client, world_a.project_id, data)
        assert r.status_code == 202, r.text
        import_id = r.json()["id"]

        assert await run(world_a, import_id) == "done"

        r = await client.get(f"/v1/imports/{import_id}")
        assert {k: r.json()[k] for k in ("status", "rows_read", "created", "rejected")} == {
            "status": "done",
            "rows_read": 4,
            "created": 2,
            "rejected": 2,
        }
        r = await client.get(f"/v1/imports/{import_id}/errors")
        table = list(
            csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline=""), delimiter=";")
        )
        assert [t[0] for t in table[1:]] == ["2", "3"]
        assert all("(invalid_characters)" in t[1] for t in table[1:])
        assert "\x00" not in r.content.decode("utf-8-sig")

    async def test_header_with_a_nul_is_422(self, api_client: ApiClient, world_a: World) -> None:
        data = b"phone,na\x00me\r\n+79161234567,x\r\n"
        r = await upload(api_client(token=world_a.key_text), world_a.project_id, data)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["code"] == "invalid_characters"

    async def test_header_without_phone_is_422(self, api_client: ApiClient, world_a: World) -> None:
        data = csv_bytes(["Телефон", "Имя"], [["+79161234567", "x"]])
        r = await upload(api_client(token=world_a.key_text), world_a.project_id, data)
        assert r.status_code == 422
        assert r.json()["errors"][0]["code"] == "phone_column_missing"

    async def test_bad_mapping_is_422_naming_it(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        data = csv_bytes(["Телефон"], [["+79161234567"]])
        r = await upload(
            api_client(token=world_a.key_text), world_a.project_id, data, mapping={"Тел": "phone"}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "mapping.Тел"

    async def test_same_file_twice_adds_nothing(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        data = csv_bytes(["phone"], [[fresh_phone()], [fresh_phone()]])
        client = api_client(token=world_a.key_text)
        first = await upload(client, world_a.project_id, data)
        await run(world_a, first.json()["id"])

        again = await upload(client, world_a.project_id, data)

        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["already_imported"] is True
        forced = await upload(client, world_a.project_id, data, force=True)
        assert forced.status_code == 202
        assert forced.json()["id"] != first.json()["id"]
        await run(world_a, forced.json()["id"])
        r = await client.get(f"/v1/imports/{forced.json()['id']}")
        assert {k: r.json()[k] for k in ("created", "duplicates")} == {
            "created": 0,
            "duplicates": 2,
        }

    async def test_a_file_of_several_chunks_imports(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        comment = "Позвонить после обеда; уточнить тариф. " * 50  # ~3.5 KB in UTF-8
        body = [[fresh_phone(), f"Имя {i}", comment] for i in range(1200)]
        data = csv_bytes(["phone", "name", "comment"], body, delimiter=";")
        assert len(data) > 2 * 1024 * 1024
        client = api_client(token=world_a.key_text)

        r = await upload(client, world_a.project_id, data)

        assert r.status_code == 202, r.text
        import_id = r.json()["id"]
        chunks = await rows(
            "select count(*) as n from intake.import_chunks where import_id = :i",
            i=uuid.UUID(import_id),
        )
        assert chunks[0]["n"] == -(-len(data) // (1024 * 1024))
        assert await run(world_a, import_id) == "done"
        r = await client.get(f"/v1/imports/{import_id}")
        assert (r.json()["rows_read"], r.json()["created"]) == (1200, 1200)
        stored = await leads_of(world_a, import_id)
        assert {s["comment"] for s in stored} == {comment.strip()}

    async def test_upload_over_the_limit_is_413(
        self, api_client: ApiClient, world_a: World, settings: Any
    ) -> None:
        data = b"phone\n" + b"9" * settings.max_upload_bytes
        r = await upload(api_client(token=world_a.key_text), world_a.project_id, data)
        assert r.status_code == 413
        assert (
            await rows(
                "select id from intake.imports where size_bytes > :n", n=settings.max_upload_bytes
            )
            == []
        )

    async def test_key_without_leads_write_is_403(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        from tests.support.factories import make_api_key

        _, key = await make_api_key(world_a.tenant, scopes=["leads:read"])
        r = await upload(api_client(token=key), world_a.project_id, csv_bytes(["phone"], [["1"]]))
        assert r.status_code == 403

    async def test_inactive_project_is_refused_like_a_single_lead(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        paused = await make_project(world_a.id, status="paused")
        r = await upload(api_client(token=world_a.key_text), paused, csv_bytes(["phone"], [["1"]]))
        assert r.status_code == 409
        assert r.json()["code"] == "project_not_active"


class TestIsolation:
    async def test_another_tenants_import_is_404(
        self, api_client: ApiClient, world_a: World, world_b: World
    ) -> None:
        r = await upload(
            api_client(token=world_a.key_text),
            world_a.project_id,
            csv_bytes(["phone"], [[fresh_phone()]]),
        )
        import_id = r.json()["id"]
        other = api_client(token=world_b.key_text)
        for path in (f"/v1/imports/{import_id}", f"/v1/imports/{import_id}/errors"):
            assert (await other.get(path)).status_code == 404
        assert (await other.delete(f"/v1/imports/{import_id}")).status_code == 404
        listed = await other.get("/v1/imports")
        assert import_id not in {i["id"] for i in listed.json()["items"]}

    async def test_uploading_into_another_tenants_project_is_404(
        self, api_client: ApiClient, world_a: World, world_b: World
    ) -> None:
        r = await upload(
            api_client(token=world_b.key_text), world_a.project_id, csv_bytes(["phone"], [["1"]])
        )
        assert r.status_code == 404

    async def test_staff_import_into_a_tenants_project(
        self, api_client: ApiClient, world_a: World, staff_token: str
    ) -> None:
        staff = api_client(token=staff_token)
        r = await upload(staff, world_a.project_id, csv_bytes(["phone"], [[fresh_phone()]]))
        assert r.status_code == 202, r.text
        await run(world_a, r.json()["id"])
        seen = await api_client(token=world_a.user_token).get(f"/v1/imports/{r.json()['id']}")
        assert (seen.status_code, seen.json()["created"]) == (200, 1)


class TestResumption:
    async def test_crash_after_one_batch_resumes_with_exact_counts(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        phones = [fresh_phone() for _ in range(25)]
        body = [[p, f"n{i}"] for i, p in enumerate(phones)]
        body[3][0] = "bad"
        body[17][0] = "bad too"
        body.insert(12, [phones[0], "repeat of the first"])
        client = api_client(token=world_a.key_text)
        r = await upload(client, world_a.project_id, csv_bytes(["phone", "name"], body))
        import_id = r.json()["id"]

        status = await run(world_a, import_id, batch_rows=10, max_batches=1)

        assert status == "running"
        r = await client.get(f"/v1/imports/{import_id}")
        assert {k: r.json()[k] for k in ("status", "rows_read", "created", "rejected")} == {
            "status": "running",
            "rows_read": 10,
            "created": 9,
            "rejected": 1,
        }
        assert await run(world_a, import_id, batch_rows=10) == "done"
        r = await client.get(f"/v1/imports/{import_id}")
        progress = {k: r.json()[k] for k in ("rows_read", "created", "duplicates", "rejected")}
        assert progress == {"rows_read": 26, "created": 23, "duplicates": 1, "rejected": 2}
        assert len(await leads_of(world_a, import_id)) == 23
        errors = await rows(
            "select row_no from intake.import_errors where import_id = :i order by row_no",
            i=uuid.UUID(import_id),
        )
        assert [e["row_no"] for e in errors] == [4, 19]

    async def test_two_runs_at_once_count_every_row_once(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        client = api_client(token=world_a.key_text)
        data = csv_bytes(["phone"], [[fresh_phone()] for _ in range(40)])
        import_id = (await upload(client, world_a.project_id, data)).json()["id"]

        statuses = await asyncio.gather(
            run(world_a, import_id, batch_rows=5), run(world_a, import_id, batch_rows=5)
        )

        assert "done" in statuses
        r = await client.get(f"/v1/imports/{import_id}")
        assert (r.json()["rows_read"], r.json()["created"], r.json()["duplicates"]) == (40, 40, 0)
        assert len(await leads_of(world_a, import_id)) == 40

    async def test_a_second_run_of_a_finished_import_changes_nothing(
        self, api_client: ApiClient, world_a: World
    ) -> None:
        client = api_client(token=world_a.key_text)
        r = await upload(client, world_a.project_id, csv_bytes(["phone"], [[fresh_phone()]]))
        import_id = r.json()["id"]
        assert await run(world_a, import_id) == "done"
        assert await run(world_a, import_id) == "done"
        r = await client.get(f"/v1/imports/{import_id}")
        assert (r.json()["rows_read"], r.json()["created"]) == (1, 1)


class TestDelete:
    async def test_delete_erases_rejected_rows(self, api_client: ApiClient, world_a: World) -> None:
        client = api_client(token=world_a.key_text)
        r = await upload(client, world_a.project_id, csv_bytes(["phone"], [["nonsense"]]))
        import_id = r.json()["id"]
        await run(world_a, import_id)
        assert (await client.delete(f"/v1/imports/{import_id}")).status_code == 204
        assert (await client.get(f"/v1/imports/{import_id}")).status_code == 404
        assert (
            await rows(
                "select 1 from intake.import_errors where import_id = :i", i=uuid.UUID(import_id)
            )
            == []
        )


class TestCli:
    async def test_import_file_imports_and_twice_adds_nothing(
        self, world_a: World, tmp_path: Path
    ) -> None:
        path = tmp_path / "leads.csv"
        path.write_bytes(
            csv_bytes(
                ["Телефон", "Имя"],
                [[fresh_phone(), "А"], [fresh_phone(), "Б"], ["x", "В"]],
                delimiter=";",
                encoding="cp1251",
            )
        )

        summary = await import_file(
            path, world_a.project_id, mapping={"Телефон": "phone", "Имя": "name"}, progress=True
        )

        assert (summary.status, summary.created, summary.rejected) == ("done", 2, 1)
        again = await import_file(
            path,
            str(world_a.project_id),
            tenant_id=world_a.id,
            mapping={"Телефон": "phone", "Имя": "name"},
            progress=False,
        )
        assert again.already_imported
        assert again.id == summary.id
        assert "nothing added" in render_summary(again)
