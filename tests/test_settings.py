"""Settings: config.yml with the environment over it; a bad setting stops start-up in one line."""
import pytest

from settings import ROOT, SettingsError, load_settings
from tests.conftest import ENVIRONMENT


def settings_with(text: str | None = None, tmp_path=None, **environ):
    env = dict(ENVIRONMENT) | environ
    path = None
    if text is not None:
        path = tmp_path / "config.yml"
        path.write_text(text)
    return load_settings(path, environ={k: v for k, v in env.items() if v is not None})


def test_shipped_config_loads_with_embedded_defaults():
    settings = settings_with()
    assert settings.connections.database_url.startswith("sqlite:")
    assert not settings.uses_redis
    assert settings.vouchers.amount_cents == 1750
    assert "ar" in settings.languages.program and "ti" in settings.languages.served


def test_environment_overrides_the_file():
    settings = settings_with(DATABASE_URL="postgresql://db/dda", REDIS_URL="redis://cache:6379/0",
                             PUBLIC_BASE_URL="https://aid.example.org/")
    assert settings.connections.database_url == "postgresql://db/dda"
    assert settings.uses_redis
    assert settings.connections.public_base_url == "https://aid.example.org"


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DDA_ENCRYPTION_KEY"])
def test_missing_secret_is_named(variable):
    with pytest.raises(SettingsError) as error:
        settings_with(**{variable: None})
    assert str(error.value) == f"{variable} is not set: it must come from the environment"


def test_short_secret_is_refused_without_echoing_it():
    with pytest.raises(SettingsError) as error:
        settings_with(SECRET_KEY="short-secret")
    assert "SECRET_KEY" in str(error.value) and "short-secret" not in str(error.value)


def test_twilio_token_needs_sid_and_number():
    with pytest.raises(SettingsError) as error:
        settings_with(TWILIO_ACCOUNT_SID="")
    assert "TWILIO_ACCOUNT_SID" in str(error.value)


@pytest.mark.parametrize("change, message", [
    (("fallback_limit: 2", "fallback_limit: 0"),
            "conversation.fallback_limit: input should be greater than or equal to 1"),
    (("amount_cents: 1750", "amount_cents: lots"), "vouchers.amount_cents: input should be a valid integer"),
    (("  currency: EUR\n", ""), "vouchers.currency is missing"),
    (("fallback_limit: 2", "fallbak_limit: 2"), "conversation.fallbak_limit: extra inputs are not permitted"),
    (("source: en", "source: xx"), "source language 'xx' must be one of the program languages"),
])
def test_invalid_setting_is_named_in_one_line(tmp_path, change, message):
    text = (ROOT / "config.yml").read_text().replace(*change)
    with pytest.raises(SettingsError) as error:
        settings_with(text, tmp_path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_invalid_url_from_environment_is_named():
    with pytest.raises(SettingsError) as error:
        settings_with(REDIS_URL="localhost:6379")
    assert "connections.redis_url" in str(error.value)


def test_secrets_in_the_config_file_are_refused(tmp_path):
    text = (ROOT / "config.yml").read_text() + "\nsecrets:\n  secret_key: oops-in-git-forever\n"
    with pytest.raises(SettingsError, match="secrets must come from the environment"):
        settings_with(text, tmp_path)


def test_broken_yaml_is_reported_with_its_line(tmp_path):
    with pytest.raises(SettingsError, match=r"config.yml:2: not valid YAML"):
        settings_with("program:\n\tname: tabs are not allowed\n", tmp_path)


def test_start_up_stops_with_one_clear_line(monkeypatch):
    from webhook import create_app

    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(SystemExit) as stopped:
        create_app(embedded_worker=False)
    assert str(stopped.value) == "Configuration error: SECRET_KEY is not set: it must come from the environment"
