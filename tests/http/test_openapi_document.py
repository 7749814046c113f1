"""The merged OpenAPI document is valid OpenAPI 3.1 and client generators read it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
from openapi_spec_validator import OpenAPIV31SpecValidator

from kolokol.app import openapi_document


def served_document() -> dict[str, object]:
    """The document as ``/schema/openapi.json`` serves it (JSON: keys are strings)."""
    return msgspec.json.decode(msgspec.json.encode(openapi_document()))


def test_the_document_is_valid_openapi_3_1() -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in OpenAPIV31SpecValidator(served_document()).iter_errors()
    ]
    assert errors == []


def test_every_response_header_has_a_schema() -> None:
    missing = [
        f"{method.upper()} {path} {status} {name}"
        for path, operations in served_document()["paths"].items()  # type: ignore[attr-defined]
        for method, operation in operations.items()
        for status, response in operation.get("responses", {}).items()
        for name, header in (response.get("headers") or {}).items()
        if "schema" not in header
    ]
    assert missing == []


def test_the_token_answer_is_one_schema() -> None:
    ok = served_document()["paths"]["/v1/auth/token"]["post"]["responses"]["200"]  # type: ignore[index]
    schema = ok["content"]["application/json"]["schema"]
    assert set(schema) == {"$ref"}


GENERATOR_CONFIG = {
    # PDFs are bytes to a client; the generator reads only octet-stream as bytes
    "content_type_overrides": {"application/pdf": "application/octet-stream"},
    "post_hooks": [],
}


def test_a_python_client_generates_without_warnings(tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    document.write_bytes(msgspec.json.encode(served_document()))
    config = tmp_path / "config.json"
    config.write_bytes(msgspec.json.encode(GENERATOR_CONFIG))
    generator = shutil.which("openapi-python-client") or str(
        Path(sys.executable).with_name("openapi-python-client")
    )
    result = subprocess.run(
        [generator, "generate", "--path", str(document), "--meta", "none", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output, output
    assert "Error" not in output, output


def test_user_enable_and_disable_document_their_409() -> None:
    paths = served_document()["paths"]
    for verb in ("enable", "disable"):
        assert "409" in paths[f"/v1/users/{{user_id}}/{verb}"]["post"]["responses"]  # type: ignore[index]


def test_a_quote_list_item_matches_one_branch() -> None:
    """Staff and client quotes differ by a ``view`` constant, so ``oneOf`` picks one."""
    doc = served_document()
    schemas = doc["components"]["schemas"]  # type: ignore[index]
    views = {name: schemas[name]["properties"]["view"] for name in ("Quote", "ClientQuote")}
    assert views["Quote"]["const"] != views["ClientQuote"]["const"]
    assert {"view"} <= set(schemas["Quote"]["required"]) & set(schemas["ClientQuote"]["required"])
