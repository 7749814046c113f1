"""Pure rules: signatures, URL/address classification, backoff and giving up."""

from __future__ import annotations

import ipaddress
import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.onboarding.webhooks import retry
from services.onboarding.webhooks.addresses import UnsafeUrl, check_url, classify
from services.onboarding.webhooks.signing import sign, verify
from shared.config import Settings

STRICT = Settings(webhook_allow_loopback=False, webhook_allow_private=False)
LOOPBACK_OK = Settings(webhook_allow_loopback=True, webhook_allow_private=False)


class TestSignature:
    def test_sign_then_verify(self) -> None:
        now = int(time.time())
        header = sign("whsec_abc", b'{"a":1}', now)
        assert header.startswith(f"t={now},v1=")
        assert verify("whsec_abc", header, b'{"a":1}')

    def test_reference_vector(self) -> None:
        # HMAC-SHA256("whsec_test", "1700000000.{}") computed independently
        import hashlib
        import hmac

        expected = hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert sign("whsec_test", b"{}", 1700000000) == f"t=1700000000,v1={expected}"

    @pytest.mark.parametrize(
        ("secret", "body", "shift"),
        [
            ("whsec_other", b'{"a":1}', 0),
            ("whsec_abc", b'{"a":2}', 0),
            ("whsec_abc", b'{"a":1}', -301),
        ],
    )
    def test_wrong_secret_body_or_stale_time_fails(self, secret, body, shift) -> None:
        now = int(time.time())
        header = sign("whsec_abc", b'{"a":1}', now + shift)
        assert not verify(secret, header, body)

    @pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1", "garbage"])
    def test_malformed_header_fails(self, header) -> None:
        assert not verify("whsec_abc", header, b"{}")


class TestAddresses:
    @pytest.mark.parametrize(
        ("address", "kind"),
        [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("192.168.0.1", "private"),
            ("::ffff:10.0.0.1", "private"),
            ("fd00::1", "private"),
            ("100.64.0.1", "private"),
            ("169.254.169.254", "forbidden"),
            ("fe80::1", "forbidden"),
            ("0.0.0.0", "forbidden"),
            ("::", "forbidden"),
            ("224.0.0.1", "forbidden"),
            ("ff02::1", "forbidden"),
            ("240.0.0.1", "forbidden"),
            ("93.184.216.34", "public"),
            ("2606:4700::1111", "public"),
        ],
    )
    def test_classify(self, address, kind) -> None:
        assert classify(ipaddress.ip_address(address)) == kind

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "https://localhost/hook",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://2130706433/hook",  # 127.0.0.1 as one number
            "https://10.0.0.5/hook",
            "https://169.254.169.254/latest/meta-data",
        ],
    )
    async def test_refused_when_not_allowed(self, url) -> None:
        with pytest.raises(UnsafeUrl) as exc:
            await check_url(url, STRICT)
        assert exc.value.code == "url_not_allowed"

    async def test_loopback_allowed_by_setting_but_link_local_never(self) -> None:
        target = await check_url("http://localhost:9/hook", LOOPBACK_OK)
        assert ipaddress.ip_address("127.0.0.1") in target.addresses
        with pytest.raises(UnsafeUrl):
            await check_url("https://169.254.169.254/", LOOPBACK_OK)
        with pytest.raises(UnsafeUrl):
            await check_url("https://10.0.0.1/", LOOPBACK_OK)

    @pytest.mark.parametrize(
        ("url", "code"),
        [
            ("http://93.184.216.34/hook", "invalid_url_scheme"),
            ("ftp://93.184.216.34/hook", "invalid_url_scheme"),
            ("https://user:pw@93.184.216.34/", "url_credentials"),
            ("https:///nohost", "invalid_url"),
            ("https://no-such-host.invalid/", "unresolvable_host"),
        ],
    )
    async def test_bad_urls(self, url, code) -> None:
        with pytest.raises(UnsafeUrl) as exc:
            await check_url(url, LOOPBACK_OK)
        assert exc.value.code == code

    async def test_public_https_passes(self) -> None:
        target = await check_url("https://93.184.216.34/hook", STRICT)
        assert target.port == 443


class TestRetry:
    def test_backoff_grows_with_jitter_bounds(self) -> None:
        rng = random.Random(1)
        waits = [retry.backoff(n, rng) for n in range(1, 12)]
        for n, wait in enumerate(waits, start=1):
            base = retry.BACKOFF[min(n, len(retry.BACKOFF)) - 1]
            assert base * 0.9 <= wait <= base * 1.1
        assert retry.backoff(1, rng) < timedelta(seconds=34)
        assert retry.backoff(30, rng) <= timedelta(hours=8.8)

    def test_gives_up_only_after_a_day_and_enough_attempts(self) -> None:
        first = datetime(2026, 1, 1, tzinfo=UTC)
        late = first + timedelta(hours=24, seconds=1)
        assert not retry.gives_up(retry.MIN_ATTEMPTS, first, first + timedelta(hours=23))
        assert not retry.gives_up(retry.MIN_ATTEMPTS - 1, first, late)
        assert retry.gives_up(retry.MIN_ATTEMPTS, first, late)

    def test_schedule_spans_more_than_a_day(self) -> None:
        total = sum(retry.BACKOFF, timedelta()) + retry.BACKOFF[-1] * 2
        assert total * 0.9 > retry.GIVE_UP_AFTER
