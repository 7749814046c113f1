"""The HTTP sender: one signed POST of a stored webhook body, and what came of it.

Every attempt re-checks the URL (:func:`addresses.check_url`: DNS may have changed
since registration) and then connects to an address that passed the check: the
request URL carries the IP, the ``Host`` header and the TLS SNI/certificate check
carry the registered host name (httpx's ``sni_hostname`` extension), so a second DNS
answer cannot redirect the connection (no DNS rebinding). Redirects are never
followed (a 3xx is a failure), proxies from the environment are ignored, and the
whole attempt is bounded by ``settings.webhook_timeout_seconds``.

No connection is kept alive: two endpoints on one IP must never share a TLS
connection negotiated for the other's host name.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from dataclasses import dataclass
from functools import cache

import httpx

from services.onboarding.webhooks.addresses import Target, UnsafeUrl, check_url
from services.onboarding.webhooks.signing import SIGNATURE_HEADER, sign
from shared.config import Settings, get_settings

MAX_ERROR_CHARS = 500
USER_AGENT = "Kolokol-Webhooks/1"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """The outcome of one POST: ``ok`` for a 2xx, else a status code and/or an error."""

    ok: bool
    status_code: int | None
    error: str | None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (building one costs ~100 ms)."""
    return httpx.create_ssl_context()


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


class WebhookSender:
    """Sends webhook bodies.

    ``transport`` can be swapped (e.g. ``httpx.MockTransport``); ``tls_context`` replaces
    the default verifying context (tests trust their own certificate authority).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.transport = transport
        self.tls_context = tls_context

    def _client(self) -> httpx.AsyncClient:
        timeout = float(self.settings.webhook_timeout_seconds)
        return httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            verify=self.tls_context or _tls_context(),
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=self.transport,
        )

    async def send(
        self,
        *,
        url: str,
        secret: str,
        body: bytes,
        event_id: uuid.UUID,
        event_type: str,
        timestamp: int | None = None,
    ) -> AttemptResult:
        """POST ``body`` to ``url`` signed with ``secret``; never raises for a network failure."""
        try:
            target = await check_url(url, self.settings)
        except UnsafeUrl as exc:
            return AttemptResult(ok=False, status_code=None, error=_clip(f"refused: {exc.message}"))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Host": _host_header(target),
            SIGNATURE_HEADER: sign(
                secret, body, int(time.time()) if timestamp is None else timestamp
            ),
            "Kolokol-Event-Id": str(event_id),
            "Kolokol-Event-Type": event_type,
        }
        limit = float(self.settings.webhook_timeout_seconds)
        try:
            async with self._client() as client, asyncio.timeout(limit):
                return await self._post(client, target, headers, body)
        except TimeoutError:
            return AttemptResult(ok=False, status_code=None, error=f"timed out after {limit:g} s")

    async def _post(
        self, client: httpx.AsyncClient, target: Target, headers: dict[str, str], body: bytes
    ) -> AttemptResult:
        last_error = "no address to connect to"
        for address in target.addresses:
            request_url = httpx.URL(target.url).copy_with(host=str(address))
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            request = client.build_request(
                "POST", request_url, headers=headers, content=body, extensions=extensions
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectError as exc:
                last_error = f"could not connect: {exc}" if str(exc) else "could not connect"
                continue  # try the next checked address
            except httpx.TimeoutException:
                return AttemptResult(ok=False, status_code=None, error="timed out")
            except httpx.HTTPError as exc:
                return AttemptResult(
                    ok=False, status_code=None, error=_clip(f"{type(exc).__name__}: {exc}")
                )
            try:
                return await self._judge(response)
            finally:
                await response.aclose()
        return AttemptResult(ok=False, status_code=None, error=_clip(last_error))

    async def _judge(self, response: httpx.Response) -> AttemptResult:
        code = response.status_code
        if 200 <= code < 300:
            return AttemptResult(ok=True, status_code=code, error=None)
        if 300 <= code < 400:
            return AttemptResult(
                ok=False, status_code=code, error=f"HTTP {code}: redirect not followed"
            )
        snippet = b""
        try:
            async for chunk in response.aiter_bytes():
                snippet += chunk
                if len(snippet) >= MAX_ERROR_CHARS:
                    break
        except httpx.HTTPError:
            pass
        text = snippet[:MAX_ERROR_CHARS].decode("utf-8", "replace").strip()
        return AttemptResult(
            ok=False,
            status_code=code,
            error=_clip(f"HTTP {code}: {text}" if text else f"HTTP {code}"),
        )
