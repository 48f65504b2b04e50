"""All configuration, through pydantic-settings.

Sources, highest first: keyword arguments, environment (`SLACK_*`, `ALP_*`; nested groups
with `__`, e.g. `ALP_KAFKA_LAG__ALLOWED_LAG=1`), the TOML file named by `ALP_CONFIG`,
then the runbook's defaults. A bad value stops the bot at start with the field's name.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bot.config_errors import env_json_problem, rung_schedule_lines, toml_problem, validation_lines
from commands.alerts import AlertmanagerSettings
from commands.config import ChecksConfig
from commands.masking.redact import remember
from escalation.config import EscalationSettings
from escalation.oncall.config import OncallSettings
from escalation.state.limits import StateStoreLimits


def _slack(name: str) -> AliasChoices:
    """Slack's own variable names, unprefixed, as Slack's docs and the contract spell them."""
    return AliasChoices(name, name.lower())


class Settings(BaseSettings, ChecksConfig):
    """The bot's settings. Check-related fields come from `commands.config.ChecksConfig`."""

    model_config = SettingsConfigDict(
        env_prefix="ALP_",
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_slack("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_slack("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=_slack("SLACK_APP_TOKEN"), description="Socket Mode when set"
    )
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_slack("SLACK_API_URL"))
    http_port: int = Field(3000, ge=0, le=65535, description="ALP_HTTP_PORT (0: any free port)")
    http_host: str = Field("0.0.0.0", description="ALP_HTTP_HOST: address to listen on")
    http_idle_timeout_s: float = Field(
        15.0,
        gt=0,
        description="ALP_HTTP_IDLE_TIMEOUT_S: a connection that has not sent a whole request head this long after it opened (or after its last answer) is closed",
    )
    http_body_timeout_s: float = Field(
        10.0,
        gt=0,
        description="ALP_HTTP_BODY_TIMEOUT_S: a request whose body has not arrived this long after its head is answered 408",
    )
    state_url: str = Field("sqlite:///alp-state.db", description="ALP_STATE_URL: SQLite file or PostgreSQL DSN")
    state: StateStoreLimits = Field(
        default_factory=StateStoreLimits, description="ALP_STATE__*: bounds on the state store's statements"
    )
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    alertmanager: AlertmanagerSettings = Field(default_factory=AlertmanagerSettings)
    runbook_dir: str | None = Field(
        None, description="ALP_RUNBOOK_DIR: a directory of runbook YAML files (symptoms as data), e.g. a ConfigMap"
    )
    runbook_poll_s: float = Field(5.0, gt=0, le=3600, description="How often alp-bot looks for changed runbook files")
    oncall: OncallSettings = Field(default_factory=OncallSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = os.environ.get("ALP_CONFIG")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


class ConfigError(SystemExit):
    """Raised at start for a bad configuration; its message names each offending field."""


def load_settings(**overrides: Any) -> Settings:
    """Read the configuration, or exit with a message naming every bad field."""
    path = os.environ.get("ALP_CONFIG")
    if path and not os.path.isfile(path):
        raise ConfigError(f"alp: ALP_CONFIG={path}: no such file")
    try:
        settings = Settings(**overrides)
    except ValidationError as err:
        lines = [f"alp: invalid configuration ({err.error_count()} problem(s)):"]
        raise ConfigError("\n".join(lines + validation_lines(err, Settings))) from None
    except SettingsError as err:  # an environment value that is not JSON
        field = str(err).split('"')[1] if str(err).count('"') >= 2 else ""
        raise ConfigError(env_json_problem(field)) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(toml_problem(path or "", err)) from None
    rungs = rung_schedule_lines(settings.escalation.oncall, [s.name for s in settings.oncall.schedules])
    if rungs:
        raise ConfigError("\n".join([f"alp: invalid configuration ({len(rungs)} problem(s)):", *rungs]))
    remember_secrets(settings)
    return settings


def secret_values(model: BaseModel) -> list[str]:
    """Every `SecretStr` set anywhere in `model` (nested settings, lists of them): a secret field
    added later is masked without anyone listing it here."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, SecretStr):
                found.append(item.get_secret_value())
            elif isinstance(item, BaseModel):
                found.extend(secret_values(item))
    return found


def remember_secrets(settings: Settings) -> None:
    """The configured secrets are masked wherever they appear (e.g. echoed by a client's error): every
    `SecretStr` field, and the connection strings that carry passwords."""
    remember(
        settings.postgres_dsn,
        settings.redis_url,
        settings.state_url,
        settings.escalation.pager_webhook_url,
        *(v for v in secret_values(settings) if v),
    )
