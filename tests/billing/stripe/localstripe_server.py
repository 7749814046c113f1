"""Run localstripe bound to 127.0.0.1 only: ``python localstripe_server.py <port>``.

``localstripe --port N`` listens on every interface (``::``) and has no host flag, so
the tests run its aiohttp app themselves. Two additions make it closer to Stripe:

- the store is not pickled to ``/tmp/localstripe.pickle`` after every write (parallel
  runs would share and race on that file);
- ``Idempotency-Key`` is honoured as Stripe documents it: the same key with the same
  parameters replays the first answer; with other parameters it is a 400
  ``idempotency_error``. localstripe itself ignores the header.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web
from localstripe.resources import store
from localstripe.server import app

_replays: dict[str, tuple[str, int, bytes, str]] = {}


@web.middleware
async def idempotency(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    body = await request.read()
    fingerprint = hashlib.sha256(request.path.encode() + b"\0" + body).hexdigest()
    seen = _replays.get(key)
    if seen is not None:
        if seen[0] != fingerprint:
            error = {
                "error": {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with.",
                }
            }
            return web.json_response(error, status=400)
        return web.Response(
            status=seen[1],
            body=seen[2],
            content_type=seen[3],
            headers={"Idempotent-Replayed": "true"},
        )
    response = await handler(request)
    if isinstance(response, web.Response) and response.status < 500:
        _replays[key] = (
            fingerprint,
            response.status,
            response.body if isinstance(response.body, bytes) else b"",
            response.content_type,
        )
    return response


def main() -> None:
    port = int(sys.argv[1])
    store.dump_to_disk = lambda: None
    app.middlewares.insert(0, idempotency)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
