"""Production refuses development secrets: the JWT secret, the app role's database
password and the Stripe webhook secret, each missing, a development default or a
placeholder, named in one error that never shows a value; every entry point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kolokol.cli import main
from shared.config import (
    DEV_APP_DB_PASSWORD,
    DEV_JWT_SECRET,
    UnsafeSettings,
    get_settings,
    load_settings,
    production_problems,
    require_production_secrets,
)

GOOD = {
    "KOLOKOL_JWT_SECRET": "9f2c41d7a0b3e6c85d1f7a2b4c6e8d0f1a3b5c7d9e1f2a4b",
    "KOLOKOL_APP_DB_PASSWORD": "u7Qk2pZr9WxLm3Ns",
    "KOLOKOL_STRIPE_WEBHOOK_SECRET": "whsec_3kP9sQ2vX7mN1bR5tY8wZ4",
}
SECRET_NAMES = tuple(GOOD)
K8S_CONFIG = Path(__file__).parents[2] / "deploy" / "k8s" / "config.yaml"


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """``KOLOKOL_ENV=production`` with usable secrets; a test spoils one or more.
    The process-wide settings are read again afterwards."""
    monkeypatch.setenv("KOLOKOL_ENV", "production")
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def test_usable_secrets_start(production: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert production_problems(settings) == []
    assert require_production_secrets(settings) is settings


def test_development_defaults_are_all_named_in_one_error(production: pytest.MonkeyPatch) -> None:
    for name in SECRET_NAMES:
        production.delenv(name)
    with pytest.raises(UnsafeSettings) as info:
        require_production_secrets(load_settings())
    message = str(info.value)
    for name in SECRET_NAMES:
        assert name in message
    assert DEV_JWT_SECRET not in message
    assert DEV_APP_DB_PASSWORD not in message
    assert len(info.value.problems) == 3


@pytest.mark.parametrize("name", SECRET_NAMES)
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "is not set"),
        ("   ", "is not set"),
        ("CHANGE-ME", "is a placeholder"),
        ("change-me-to-32-random-bytes-please-now", "is a placeholder"),
    ],
)
def test_each_secret_missing_or_a_placeholder_is_refused(
    production: pytest.MonkeyPatch, name: str, value: str, why: str
) -> None:
    production.setenv(name, value)
    with pytest.raises(UnsafeSettings) as info:
        require_production_secrets(load_settings())
    assert info.value.problems == [f"{name} {why}"]


@pytest.mark.parametrize(
    ("name", "dev_value"),
    [("KOLOKOL_JWT_SECRET", DEV_JWT_SECRET), ("KOLOKOL_APP_DB_PASSWORD", DEV_APP_DB_PASSWORD)],
)
def test_the_development_default_is_refused(
    production: pytest.MonkeyPatch, name: str, dev_value: str
) -> None:
    production.setenv(name, dev_value)
    problems = production_problems(load_settings())
    assert problems == [f"{name} is the development default"]
    assert dev_value not in str(UnsafeSettings(problems))


def test_a_short_jwt_secret_is_refused(production: pytest.MonkeyPatch) -> None:
    production.setenv("KOLOKOL_JWT_SECRET", "a" * 31)
    assert production_problems(load_settings()) == [
        "KOLOKOL_JWT_SECRET is shorter than 32 characters"
    ]


def test_development_and_test_keep_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in ("dev", "test"):
        monkeypatch.setenv("KOLOKOL_ENV", env)
        for name in SECRET_NAMES:
            monkeypatch.delenv(name, raising=False)
        assert production_problems(load_settings()) == []


def test_the_example_k8s_secret_holds_no_usable_value(production: pytest.MonkeyPatch) -> None:
    documents = [d for d in yaml.safe_load_all(K8S_CONFIG.read_text()) if d]
    (secret,) = [d for d in documents if d["kind"] == "Secret"]
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    assert config["data"]["KOLOKOL_ENV"] == "production"
    for name in SECRET_NAMES:
        production.setenv(name, secret["stringData"].get(name, ""))
    problems = production_problems(load_settings())
    assert sorted(p.split()[0] for p in problems) == sorted(SECRET_NAMES)


@pytest.mark.parametrize("command", ["serve", "worker", "relay", "scheduler", "migrate"])
def test_every_entry_point_refuses_to_start(
    production: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    production.setenv("KOLOKOL_JWT_SECRET", DEV_JWT_SECRET)
    production.setenv("KOLOKOL_STRIPE_WEBHOOK_SECRET", "")
    get_settings.cache_clear()
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kolokol {command}: refusing to start with KOLOKOL_ENV=production")
    assert "KOLOKOL_JWT_SECRET is the development default" in err
    assert "KOLOKOL_STRIPE_WEBHOOK_SECRET is not set" in err
    assert "KOLOKOL_APP_DB_PASSWORD" not in err
    assert DEV_JWT_SECRET not in err
    assert err.count("\n") == 1
