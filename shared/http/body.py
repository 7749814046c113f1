"""What every request's input must be before a handler sees it: one place for the family.

A bad input is the client's mistake and answers 4xx naming the field, never a 500 from
deep inside (PostgreSQL refuses a NUL in text; a 10⁵-deep JSON array overflows the
decoder's stack):

- a JSON body is sent as ``application/json`` (or ``…+json``): anything else is a 415
  ``unsupported_media_type``;
- it is decoded strictly into the handler's ``data`` type in one pass (``"100"`` is not
  an integer): a mismatch is a 422 ``validation`` naming the field (``items[3].amount``);
- it nests at most as deep as the decoder can follow: deeper is a 400 ``too_deeply_nested``;
- no string in it, no query parameter and no path segment holds a NUL character: a 422
  ``validation`` with the code ``nul_character`` naming the field.

:class:`KolokolRequest` is the app's request class (the body); :func:`reject_nul_input`
its ``before_request`` hook (query and path). Both look for a NUL only when the raw
input can hold one (``\\u0000`` in the body, ``%00`` in the query string), so the
common request pays a substring search, not a walk of what it sent.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException
from litestar.types import Empty

from shared.errors import AppError, FieldError, ValidationFailed

NUL = "\x00"
_NUL_ESCAPE = b"\\u0000"
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`")


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class TooDeeplyNested(AppError):
    status = 400
    code = "too_deeply_nested"
    title = "Request body nested too deeply"


def is_json_media_type(media_type: str) -> bool:
    """``application/json`` or a structured ``+json`` type (``application/merge-patch+json``)."""
    media_type = media_type.strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def nul_paths(value: Any, path: str = "") -> list[str]:
    """The paths (``items[3].name``, ``fields.<key>``) of strings in ``value`` that hold a
    NUL; a key holding one names the key itself."""
    if isinstance(value, str):
        return [path] if NUL in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and NUL in key:
                found.append(inner.replace(NUL, "\\u0000"))
            else:
                found.extend(nul_paths(item, inner))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(nul_paths(item, f"{path}[{index}]"))
    return found


def nul_failure(paths: list[str]) -> ValidationFailed:
    return ValidationFailed(
        [FieldError(p, "nul_character", "must not contain a NUL character") for p in paths]
    )


def decode_error(exc: msgspec.ValidationError) -> FieldError:
    """A msgspec message (``Expected `int`, got `str` - at `$.items[0].amount```) as the
    field error of API.md (``items[0].amount`` / ``invalid_type``)."""
    message = str(exc)
    match = _PATH.search(message)
    path = match["path"].lstrip(".") if match else ""
    text = message[: match.start()] if match else message
    for pattern, code in ((_MISSING, "required"), (_UNKNOWN, "unknown_field")):
        named = pattern.match(text)
        if named:
            return FieldError(f"{path}.{named['field']}" if path else named["field"], code, text)
    if text.startswith("Expected `") and ", got `" in text:
        code = "invalid_type"
    elif re.search(r"Expected `.*` (>=|<=|>|<) ", text) or "length" in text:
        code = "out_of_range"
    else:
        code = "invalid"
    return FieldError(path, code, text)


def _data_type(request: Request[Any, Any, Any]) -> Any:
    """The annotation of the handler's ``data`` (what its signature model converts to)."""
    model = request.route_handler.signature_model
    return model.__annotations__.get("data", Any) if model is not None else Any


class KolokolRequest(Request[Any, Any, Any]):
    """Litestar's request with the body rules of this module (see its description)."""

    async def json(self) -> Any:
        if self._json is not Empty:
            return self._json
        body = await self.body()
        media_type, _ = self.content_type
        if body and not is_json_media_type(media_type):
            raise UnsupportedMediaType(
                f"send the body as application/json, not {media_type or 'without a type'}"
            )
        try:
            value = msgspec.json.decode(body or b"null", type=_data_type(self), strict=True)
        except RecursionError:
            raise TooDeeplyNested("the JSON body nests deeper than this API reads") from None
        except msgspec.ValidationError as exc:
            raise ValidationFailed([decode_error(exc)]) from None
        except msgspec.DecodeError as exc:  # not JSON at all: 400 ``malformed_json``
            raise SerializationException(str(exc)) from exc
        if _NUL_ESCAPE in body:
            paths = nul_paths(msgspec.json.decode(body))
            if paths:
                raise nul_failure(paths)
        self._json = self._connection_state.json = value
        return value


def reject_nul_input(request: Request[Any, Any, Any]) -> None:
    """``before_request`` of every app: no NUL in a query parameter or the path."""
    raw = request.scope.get("query_string", b"")
    if b"%00" in raw or b"\x00" in raw:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
        paths = [name.replace(NUL, "\\u0000") for name, value in pairs if NUL in name + value]
        if paths:
            raise nul_failure(paths)
    if NUL in request.scope.get("path", ""):
        raise nul_failure(["path"])
