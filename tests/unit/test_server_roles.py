"""API keys and roles: how keys are written, who a key stands for, and where `moe serve` may listen without keys.

The routes' refusals (403 for a user's key) are tested against a real server in tests/e2e (test_server.py,
test_train_jobs.py)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from moe_system.cli.serve import is_loopback
from moe_system.config import ApiKeySettings, Settings, load_settings
from moe_system.errors import ConfigError
from moe_system.server.auth import OPEN_SERVER, ApiKeys, api_keys
from moe_system.server.jobs.store import Job


def test_keys_are_written_as_key_or_key_colon_role() -> None:
    assert ApiKeySettings.parse("k1:admin") == ApiKeySettings(key="k1", role="admin")
    assert ApiKeySettings.parse(" k2 ") == ApiKeySettings(key="k2", role="user")
    assert ApiKeySettings.parse("a:b:user") == ApiKeySettings(key="a:b", role="user")
    assert ApiKeySettings.parse("with:colon") == ApiKeySettings(key="with:colon", role="user")  # not a role
    settings = Settings(server={"api_keys": ["k1:admin", {"key": "k3", "user": "carol", "role": "admin"}, "k4"]})
    assert [(k.key, k.user, k.role) for k in settings.server.api_keys] == [
        ("k1", None, "admin"), ("k3", "carol", "admin"), ("k4", None, "user")]
    with pytest.raises(ConfigError, match=r"server\.api_keys"):
        load_settings(server={"api_keys": [{"key": "k", "role": "root"}]})


def test_a_key_stands_for_its_user_and_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOE_API_KEYS", "env-admin:admin, env-user")
    keys = api_keys(Settings(server={"api_keys": [{"key": "named", "user": "dana"}]}))
    admin, user, named = keys.require("env-admin"), keys.require("env-user"), keys.require("named")
    assert admin.role == "admin" and user.role == "user" and (named.user, named.role) == ("dana", "user")
    assert admin.user is not None and admin.user.startswith("key-") and "env-admin" not in admin.user
    assert keys.user("env-user") == user.user != admin.user
    with pytest.raises(HTTPException) as refused:
        user.require_admin("installing experts")
    assert refused.value.status_code == 403
    assert refused.value.detail == "installing experts needs an admin key; this key's role is 'user'"
    admin.require_admin("installing experts")
    with pytest.raises(HTTPException) as unknown:
        keys.require("nope")
    assert unknown.value.status_code == 401


def test_a_server_without_keys_has_one_admin_caller() -> None:
    assert ApiKeys([]).require(None) is OPEN_SERVER and OPEN_SERVER.role == "admin" and OPEN_SERVER.user is None


def test_each_users_runs_have_their_own_folder() -> None:
    def job(user: str | None) -> Job:
        return Job(job_id="j", user=user, recipe=None, expert="sql", version="1.0.0", created=0.0, epochs=1.0,
                   step_examples=8)

    assert job(None).run_key == "sql-1.0.0"  # the folder `moe train` uses: the one user of a keyless server
    assert job("key-abc").run_key == "users/key-abc/sql-1.0.0" != job("dana").run_key


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                                ("::", False), ("192.168.1.5", False), ("example.org", False)])
def test_only_loopback_addresses_may_serve_without_keys(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
