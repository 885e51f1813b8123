"""One place that turns config.yml plus the environment into validated settings.

Operators override connections with the environment variables named in DESIGN.md;
secrets are read only from the environment so that config.yml can be committed.
A bad setting raises SettingsError with one line naming the setting and the reason,
because a service that starts half-configured fails later in a worse place.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ROOT = Path(__file__).resolve().parent.parent
# A checkout has config.yml beside the packages; an installed wheel keeps it under its prefix.
DEFAULT_CONFIG = next((path for path in (ROOT / "config.yml", Path(sys.prefix) / "share/direct-digital-aid/config.yml")
                       if path.exists()), ROOT / "config.yml")
DEFAULT_KEYRING_URL = "sqlite:///var/dda-keyring.sqlite3"
DEFAULT_KIND = "supermarket"  # the program's weekly voucher from before there were kinds (migration 0019)

ENVIRONMENT = {
    "DATABASE_URL": ("connections", "database_url"),
    "DDA_KEYRING_URL": ("connections", "keyring_url"),
    "REDIS_URL": ("connections", "redis_url"),
    "PUBLIC_BASE_URL": ("connections", "public_base_url"),
    "TWILIO_ACCOUNT_SID": ("connections", "twilio_account_sid"),
    "TWILIO_WHATSAPP_NUMBER": ("connections", "twilio_whatsapp_number"),
    "TWILIO_API_BASE_URL": ("connections", "twilio_api_base_url"),
    "TWILIO_SMS_NUMBER": ("connections", "twilio_sms_number"),
}
NESTED_ENVIRONMENT = {"RASA_TOKEN": ("nlu", "rasa", "token")}
SECRETS = {
    "SECRET_KEY": "secret_key",
    "DDA_ENCRYPTION_KEY": "encryption_key",
    "DDA_PREVIOUS_ENCRYPTION_KEYS": "previous_encryption_keys",
    "TWILIO_AUTH_TOKEN": "twilio_auth_token",
    "METRICS_TOKEN": "metrics_token",
}


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line for the operator."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Program(_Section):
    name: str = Field(min_length=1)
    organisation: str = Field(min_length=1)
    default_region: str = Field(default="NL", min_length=2, max_length=2)


class Languages(_Section):
    source: str = "en"
    program: list[str] = Field(min_length=1)
    served: list[str] = []
    detect_min_words: int = Field(default=3, ge=1)
    detect_min_confidence: float = Field(default=0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _source_is_a_program_language(self) -> Languages:
        if self.source not in self.program:
            raise ValueError(f"source language {self.source!r} must be one of the program languages")
        return self

    @property
    def all(self) -> list[str]:
        return self.program + [code for code in self.served if code not in self.program]


class Conversation(_Section):
    fallback_limit: int = Field(default=2, ge=1)
    state_ttl_hours: int = Field(default=168, ge=1)
    max_inbound_chars: int = Field(default=2000, ge=100)
    lock_timeout_seconds: int = Field(default=30, ge=1)
    set_aside_after: int = Field(default=3, ge=1)  # failures before a message is set aside (flask inbox failed)


class Rasa(_Section):
    url: str = ""
    token: str = ""
    timeout_seconds: float = Field(default=2.0, gt=0)


class Nlu(_Section):
    backend: Literal["embedded", "rasa"] = "embedded"
    confidence_threshold: float = Field(default=0.5, gt=0, le=1)
    suggestion_threshold: float = Field(default=0.25, gt=0, le=1)
    urgent_threshold: float = Field(default=0.15, gt=0, le=1)
    out_of_scope_threshold: float = Field(default=0.2, gt=0, le=1)
    rasa: Rasa = Rasa()

    @model_validator(mode="after")
    def _rasa_needs_url(self) -> Nlu:
        if self.backend == "rasa" and not self.rasa.url.startswith(("http://", "https://")):
            raise ValueError("backend rasa needs nlu.rasa.url, the Rasa server's http(s) URL")
        if self.suggestion_threshold > self.confidence_threshold:
            raise ValueError("suggestion_threshold must not be above confidence_threshold")
        return self


class Invitation(_Section):
    channel: Literal["whatsapp", "sms"] = "whatsapp"
    again_after_days: int = Field(default=14, ge=1)


class Registration(_Section):
    open: bool = True
    remind_after_hours: int = Field(default=24, ge=1)
    expire_after_days: int = Field(default=7, ge=1)
    invitation: Invitation = Invitation()


class Helpline(_Section):
    """A free helpline named in the answer to danger, next to 112."""

    topic: Literal["violence", "suicide"]
    name: str = Field(min_length=1, max_length=60)
    number: str = Field(min_length=3, max_length=30)


class Helpdesk(_Section):
    timezone: str = "Europe/Amsterdam"
    hours: dict[str, str] = {"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00",
                             "thu": "09:00-17:00", "fri": "09:00-17:00"}
    expected_wait_minutes: int = Field(default=30, ge=1)
    acknowledge_quiet_minutes: int = Field(default=60, ge=1)  # after this long without a word from the team
    urgent_helplines: list[Helpline] = []

    @field_validator("hours")
    @classmethod
    def _spans(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for day, span in value.items():
            if day not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
                raise ValueError(f"unknown day {day!r} (mon … sun)")
            if not re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", str(span).replace(" ", "")):
                raise ValueError(f"{day}: {span!r} must look like 09:00-17:00")
        return value


# The sets of translated texts a kind of voucher can use (vouchers/kinds.py holds them): what a
# person reads must be in every language's catalog, so config picks a set rather than writing text.
KIND_TEXTS = ("supermarket", "pharmacy")
KIND_PERIODS = ("weekly", "monthly", "one-off")


class Eligibility(_Section):
    """Who gets a kind: every included person, or only those staff flagged (all of `flags`)."""

    flags: tuple[str, ...] = ()

    @field_validator("flags", mode="before")
    @classmethod
    def _words(cls, value):
        value = [value] if isinstance(value, str) else value
        words = tuple(str(flag).strip().lower() for flag in value)
        if any(not _is_name(flag) for flag in words):
            raise ValueError("flags are short words such as pharmacy or medical-needs")
        return words


def _is_name(word: str) -> bool:
    return 0 < len(word) <= 20 and word[0].isalpha() and word.replace("-", "").isalnum() and word.isascii()


class VoucherKind(_Section):
    """One kind of voucher (supermarket, pharmacy…). Unset amount, currency, validity and
    stores are the program's (the `vouchers` section's), so today's single voucher is the
    default kind without repeating anything."""

    amount_cents: int | None = Field(default=None, gt=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    period: Literal["weekly", "monthly", "one-off"] = "weekly"
    valid_days: int | None = Field(default=None, ge=1)  # from the start of its period (one-off: the day issued)
    stores: str | None = None  # where it is spent, as the chat names them ({stores})
    template: str = "voucher_ready"  # the approved WhatsApp template (templates:) telling it is ready
    texts: Literal["supermarket", "pharmacy"] | None = None  # the set of texts; unset: the kind's name
    eligibility: Eligibility = Eligibility()


class Vouchers(_Section):
    amount_cents: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    valid_days: int = Field(default=28, ge=1)
    reminders: int = Field(default=2, ge=0)
    remind_after_hours: int = Field(default=24, ge=1)
    symbology: Literal["code128", "ean13"] = "code128"
    image_link_hours: int = Field(default=168, ge=1)
    stores: str = "Albert Heijn, Jumbo, Lidl"
    issue_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    issue_hour: int = Field(default=8, ge=0, le=23)
    till_pin: bool = False  # tills must send the voucher's PIN with each payment
    # The kinds of voucher, the first being the default (today's weekly supermarket voucher);
    # unset: that one kind only. A store's till key spends only the kinds it was given.
    kinds: dict[str, VoucherKind] = {}
    # Usage figures (staff page, `flask vouchers stats`): a cell counting fewer vouchers or
    # payments than this is shown as suppressed, so no figure points at a few people.
    stats_min_count: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _complete_kinds(self) -> Vouchers:
        kinds = self.kinds or {DEFAULT_KIND: VoucherKind()}
        for name, kind in kinds.items():
            if not _is_name(name) or name != name.lower():
                raise ValueError(f"kinds: {name!r} is not a kind's name (a short lowercase word such as pharmacy)")
            kind.amount_cents = kind.amount_cents or self.amount_cents
            kind.currency = (kind.currency or self.currency).upper()
            kind.valid_days = kind.valid_days or self.valid_days
            kind.stores = kind.stores if kind.stores is not None else self.stores
            kind.texts = kind.texts or (name if name in KIND_TEXTS else None)
            if kind.texts is None:
                raise ValueError(f"kinds.{name}.texts: must be one of {', '.join(KIND_TEXTS)} (the translated "
                                 "texts a person reads about this kind)")
        self.kinds = kinds
        return self

    @property
    def default_kind(self) -> str:
        return next(iter(self.kinds))


class Delivery(_Section):
    max_body_chars: int = Field(default=1600, ge=100, le=1600)
    max_attempts: int = Field(default=8, ge=1)
    # WhatsApp allows about 80 per sender; more is accepted only against a mock (TWILIO_API_BASE_URL),
    # for benchmarks that measure the code rather than the limit.
    rate_per_second: int = Field(default=70, ge=1)
    reply_reserve: int = Field(default=5, ge=0)  # bulk leaves this for replies, on top of what they ask for
    bulk_batch: int = Field(default=100, ge=1, le=1000)  # people per bulk delivery job
    sweep_after_seconds: int = Field(default=60, ge=1)
    send_timeout_seconds: float = Field(default=15, gt=0)
    uncertain_grace_seconds: float = Field(default=120, gt=0)


class Privacy(_Section):
    """How long personal data is kept (flask privacy purge, and the workers once a day)."""

    message_days: int = Field(default=30, ge=1)     # message texts are erased after this
    inactive_months: int = Field(default=12, ge=1)  # a registration this long without activity is warned…
    warning_days: int = Field(default=14, ge=1)     # …and erased this long after the warning
    replay_days: int = Field(default=30, ge=1)      # an erased person's MessageSids are recognised this long


class Content(_Section):
    flows: Path = Path("flows")
    referrals: Path = Path("content")
    translations: Path = Path("translations")  # the gettext catalogs; editors' saves land here too
    refresh_seconds: float = Field(default=5, ge=0)  # how soon a published release reaches a running process
    # Releases kept per kind (flows, referral content, ready answers) to roll back to; older ones
    # go once a day (a flows release holds every text in every language: most of a megabyte).
    keep_releases: int = Field(default=50, ge=2)

    @field_validator("flows", "referrals", "translations")
    @classmethod
    def _exists(cls, value: Path) -> Path:
        path = value if value.is_absolute() else ROOT / value
        if not path.is_dir():
            raise ValueError(f"{path} is not a folder")
        return path


class Simulator(_Section):
    # The phone simulator at /simulator. Unset: on with the local channel (no Twilio), off in
    # production, where a test phone has no business.
    enabled: bool | None = None


class Connections(_Section):
    database_url: str = Field(min_length=1)
    # Where the per-person data keys live (store/data_keys.py): apart from the database and its
    # backups. Empty: a second SQLite file beside a SQLite database, else var/dda-keyring.sqlite3.
    keyring_url: str = ""
    redis_url: str = ""
    public_base_url: str = Field(min_length=1)
    twilio_api_base_url: str = ""
    twilio_account_sid: str = ""
    twilio_whatsapp_number: str = ""
    twilio_sms_number: str = ""

    @field_validator("public_base_url")
    @classmethod
    def _is_http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _is_redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL, or empty for the in-process default")
        return value

    @model_validator(mode="after")
    def _keyring_apart(self) -> Connections:
        if not self.keyring_url:
            self.keyring_url = default_keyring_url(self.database_url)
        if self.keyring_url == self.database_url:
            raise ValueError("DDA_KEYRING_URL must name another database than DATABASE_URL: the keyring is kept "
                             "apart from the database and its backups")
        return self


def default_keyring_url(database_url: str) -> str:
    """A SQLite database's keyring is a second file beside it (var/dda.sqlite3 ->
    var/dda-keyring.sqlite3); any other database's is var/dda-keyring.sqlite3. On more than one
    machine set DDA_KEYRING_URL to a separate small database: a local file would give each
    machine keys the others cannot find (which stops them, loudly, rather than leaking)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        return DEFAULT_KEYRING_URL
    if not url.database or url.database == ":memory:":
        return url.set(database=None).render_as_string(hide_password=False)
    database = Path(url.database)
    keyring = database.with_name(f"{database.stem}-keyring{database.suffix or '.sqlite3'}")
    return url.set(database=str(keyring)).render_as_string(hide_password=False)


@functools.lru_cache(maxsize=16)
def key_weakness(key: str) -> str | None:
    """Why `key` is no secret, or None. Length alone lets "password12345678" through, so the
    key is also scored as a password would be (zxcvbn): a key must take at least 10^12 guesses.
    Scoring takes 8 ms a key, at every start of a process, a command and a test's app: it is
    kept for the keys already scored."""
    from zxcvbn import zxcvbn

    if len(key) < 16:
        return "must have at least 16 characters"
    if zxcvbn(key[:100])["guesses_log10"] < MIN_KEY_GUESSES_LOG10:
        return "looks like words or a pattern: use a random secret (make install writes one)"
    return None


MIN_KEY_GUESSES_LOG10 = 12


class Secrets(_Section):
    secret_key: str
    encryption_key: str
    # Old keys, comma-separated, during a key rotation: they still decrypt and still find
    # people until `flask privacy rotate-key` has moved everything to the current key.
    previous_encryption_keys: tuple[str, ...] = ()
    twilio_auth_token: str = ""
    metrics_token: str = ""

    @field_validator("secret_key", "encryption_key")
    @classmethod
    def _random(cls, value: str) -> str:
        weakness = key_weakness(value)
        if weakness:
            raise ValueError(weakness)
        return value

    @field_validator("previous_encryption_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if any(len(key) < 16 for key in value):
            raise ValueError("every key must have at least 16 characters")
        return tuple(value)

    @model_validator(mode="after")
    def _apart(self) -> Secrets:
        if self.secret_key == self.encryption_key:
            raise ValueError("SECRET_KEY and DDA_ENCRYPTION_KEY must differ: one signs staff sessions, "
                             "the other protects personal data")
        return self


class Settings(_Section):
    program: Program
    languages: Languages
    conversation: Conversation = Conversation()
    nlu: Nlu = Nlu()
    registration: Registration = Registration()
    helpdesk: Helpdesk = Helpdesk()
    vouchers: Vouchers
    delivery: Delivery = Delivery()
    privacy: Privacy = Privacy()
    content: Content = Content()
    simulator: Simulator = Simulator()
    # Twilio Content SIDs of approved WhatsApp templates, per template and language: what may go
    # out once the 24-hour window has closed (delivery/notices.py decides).
    templates: dict[str, dict[str, str]] = {}
    connections: Connections
    secrets: Secrets

    @model_validator(mode="after")
    def _twilio_complete(self) -> Settings:
        c = self.connections
        if self.secrets.twilio_auth_token and not (c.twilio_account_sid and c.twilio_whatsapp_number):
            raise ValueError(
                "TWILIO_AUTH_TOKEN is set, so TWILIO_ACCOUNT_SID and TWILIO_WHATSAPP_NUMBER are needed too"
            )
        if self.delivery.rate_per_second > 80 and not c.twilio_api_base_url:
            raise ValueError("delivery.rate_per_second above 80 is refused by WhatsApp; "
                             "only a mock (TWILIO_API_BASE_URL) takes more")
        if self.delivery.reply_reserve >= self.delivery.rate_per_second:
            raise ValueError("delivery.reply_reserve must leave bulk sends part of delivery.rate_per_second")
        return self

    def placeholders(self) -> dict[str, str]:
        """The program's values any text may use: {program}, {organisation}, {stores}, {message_days}."""
        return {"program": self.program.name, "organisation": self.program.organisation,
                "stores": self.vouchers.stores, "message_days": str(self.privacy.message_days)}

    @property
    def uses_twilio(self) -> bool:
        return bool(self.secrets.twilio_auth_token)

    @property
    def simulator_on(self) -> bool:
        return self.simulator.enabled if self.simulator.enabled is not None else not self.uses_twilio

    @property
    def uses_redis(self) -> bool:
        return bool(self.connections.redis_url)


def mask_url(url: str) -> str:
    """A connection URL fit to print: any password replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "(a URL that could not be read)"


def load_settings(path: str | os.PathLike | None = None, environ: dict[str, str] | None = None,
                  overrides: dict[str, Any] | None = None) -> Settings:
    """Read the config file, lay the environment over it and validate the whole."""
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get("DDA_CONFIG") or DEFAULT_CONFIG)
    try:
        # libyaml's loader: every process and `flask` command reads this file at start, ten times faster.
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
    except FileNotFoundError:
        raise SettingsError(f"{path}: config file not found (set DDA_CONFIG or restore config.yml)") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SettingsError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: must be a mapping of sections")
    if "secrets" in raw:
        raise SettingsError(f"{path}: secrets must come from the environment, not the config file")

    for variable, (section, key) in ENVIRONMENT.items():
        if variable in environ:
            raw.setdefault(section, {})[key] = environ[variable]
    for variable, (section, sub, key) in NESTED_ENVIRONMENT.items():
        if environ.get(variable):
            raw.setdefault(section, {}).setdefault(sub, {})[key] = environ[variable]
    raw["secrets"] = {key: environ[variable] for variable, key in SECRETS.items() if environ.get(variable)}
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        raise SettingsError(_describe(first, path)) from None


def _describe(problem: dict, path: Path) -> str:
    location = ".".join(str(part) for part in problem["loc"])
    reason = problem["msg"].removeprefix("Value error, ")
    if location == "secrets":
        return reason
    reason = reason[:1].lower() + reason[1:]
    if location.startswith("secrets."):
        variable = next(v for v, k in SECRETS.items() if k == location.split(".", 1)[1])
        if problem["type"] == "missing":
            return f"{variable} is not set: it must come from the environment"
        return f"{variable}: {reason}"
    if problem["type"] == "missing":
        return f"{path}: {location} is missing"
    got = problem.get("input")
    shown = "" if isinstance(got, dict) or got is None else f" (got {mask_url(str(got))!r})"
    return f"{path}: {location or 'settings'}: {reason}{shown}"
