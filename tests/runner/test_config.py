"""``kolokol config`` shows the effective settings and never a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kolokol.cli import main
from shared.config import get_settings

DB_PASSWORD = "db-pass-Zq81"
JWT_SECRET = "jwt-secret-Xk93"
OLD_JWT_SECRET = "old-jwt-secret-Pw27"
APP_PASSWORD = "app-pass-Lm55"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://owner:{DB_PASSWORD}@db.internal:5432/kolokol")
    monkeypatch.setenv("REDIS_URL", "redis://:redis-pass-Vb11@cache.internal:6379/0")
    monkeypatch.setenv("KOLOKOL_JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("KOLOKOL_JWT_PREVIOUS_SECRETS", OLD_JWT_SECRET)
    monkeypatch.setenv("KOLOKOL_APP_DB_PASSWORD", APP_PASSWORD)
    get_settings.cache_clear()
    yield dict(os.environ)
    get_settings.cache_clear()


def _assert_masked(out: str) -> dict:
    for secret in (DB_PASSWORD, JWT_SECRET, OLD_JWT_SECRET, APP_PASSWORD, "redis-pass-Vb11"):
        assert secret not in out
    shown = json.loads(out)
    assert shown["database_url"] == "postgresql://owner:****@db.internal:5432/kolokol"
    assert shown["app_database_url"] == "postgresql://kolokol_app:****@db.internal:5432/kolokol"
    assert shown["redis_url"] == "redis://:****@cache.internal:6379/0"
    assert shown["jwt_secret"] == "****"
    assert shown["jwt_previous_secrets"] == ["****"]
    assert shown["app_db_password"] == "****"
    return shown


class TestConfigCommand:
    def test_in_process_masks_passwords_and_jwt_secret(self, secret_env, capsys):
        assert main(["config"]) == 0

        shown = _assert_masked(capsys.readouterr().out)
        assert shown["http_port"] == get_settings().http_port

    def test_console_command_masks_passwords_and_jwt_secret(self, secret_env):
        done = subprocess.run(
            [sys.executable, "-m", "kolokol", "config"],
            env=secret_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert done.returncode == 0, done.stderr
        assert JWT_SECRET not in done.stderr
        _assert_masked(done.stdout)

    def test_repr_and_str_of_settings_hide_every_secret(self, secret_env):
        """A ``Settings`` in a log line or a traceback shows no password."""
        for shown in (repr(get_settings()), str(get_settings()), f"{get_settings()}"):
            for secret in (
                DB_PASSWORD,
                JWT_SECRET,
                OLD_JWT_SECRET,
                APP_PASSWORD,
                "redis-pass-Vb11",
            ):
                assert secret not in shown
            assert "db.internal" in shown


class TestParser:
    def test_unknown_service_is_refused(self, capsys):
        with pytest.raises(SystemExit) as exited:
            main(["serve", "--service", "nope"])

        assert exited.value.code == 2
        assert "invalid choice" in capsys.readouterr().err

    def test_the_scheduler_finds_every_declared_job(self):
        import importlib

        from kolokol.cli import job_modules
        from shared.scheduling.registry import registered_jobs

        found = job_modules()
        for name in found:
            importlib.import_module(name)
        jobs = set(registered_jobs(found))
        # One from each place a service keeps jobs, nested concepts included.
        assert {
            "messaging.relay_sweep",
            "db.partitions",
            "onboarding.webhook_retries",
            "pricing.expire_quotes",
            "intake.resume_imports",
            "assignment.reaper",
            "assignment.dnc_sweep",
            "billing.monthly_run",
            "billing.charge_due",
        } <= jobs
