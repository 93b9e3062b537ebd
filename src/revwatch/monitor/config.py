"""The monitoring config file (``revwatch.toml``): schema, loading and validation.

``revwatch run --config revwatch.toml`` does one idempotent run over
everything the file names. The file is TOML (read with :mod:`tomllib`) and is
validated with pydantic; every problem is raised as a
:class:`~revwatch.errors.ConfigError` whose one-line message names the file,
the line and the key, and says what to do.

Sections
--------
``[store]``
    ``url`` (SQLAlchemy URL; a SQLite file by default), ``schema`` (PostgreSQL
    schema, optional), ``features_dir`` (the partitioned Parquet feature store).
``[[sources]]``
    ``kind = "file"`` (``path``: a file or glob of CSV/Parquet/Excel files),
    ``kind = "sql"`` (``url`` or ``url_env`` and ``query``) or
    ``kind = "events"`` (raw payment events from a file/glob or a query,
    aggregated to seed 001's metric vector at ``grain`` hourly or daily by
    ``dimensions``).
``[[metrics]]``
    What to watch: ``source``, ``value`` (column), ``keys`` (series key
    columns), ``grain``, ``method`` and its ``params``, ``dimensions`` (keys
    a total breaks down by), ``min_duration``, ``fdr``, ``[metrics.tiers]``
    (the tier rule: confidence, share, amount), ``active_periods``.
``[routing]``
    Channels per tier (seed 001: critical pages, warning goes to Slack, info
    stays on the record).
``[alerts]``
    ``digest``, retry settings and one table per channel (``slack``,
    ``pagerduty``, ``email``, ``webhook``). Secrets are never in the file:
    name the environment variable that holds them (``webhook_url_env``,
    ``routing_key_env``, ``password_env``, ``url_env``).
``[feedback]``
    ``suppress_days``: how long a *benign* label suppresses similar alerts.

Examples
--------
>>> cfg = parse_config(EXAMPLE_CONFIG, path="revwatch.toml")
>>> [m.name for m in cfg.metrics], cfg.routing.critical
(['mrr'], ['pagerduty', 'slack'])
>>> bad = EXAMPLE_CONFIG.replace('url = "sqlite:///revwatch.db"', "url = 5")
>>> try:
...     parse_config(bad, path="bad.toml")
... except ConfigError as exc:
...     print(exc)
bad.toml:7: store.url: Input should be a valid string (fix the value of 'url')
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from revwatch.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "EXAMPLE_CONFIG",
    "AlertsConfig",
    "Config",
    "MetricConfig",
    "SourceConfig",
    "StoreConfig",
    "TierConfig",
    "config_lines",
    "load_config",
    "parse_config",
]

CHANNELS = ("slack", "pagerduty", "email", "webhook")
Channel = Literal["slack", "pagerduty", "email", "webhook"]
EVENT_METRICS = (
    "revenue",
    "transaction_count",
    "avg_order_value",
    "payment_success_rate",
    "refund_rate",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Model):
    """Where incidents, runs and deliveries live."""

    url: str = "sqlite:///revwatch.db"
    schema_name: str | None = Field(default=None, alias="schema")
    features_dir: str | None = "revwatch-features"


class SourceConfig(_Model):
    """One data source."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["file", "sql", "events"] = "file"
    path: str | None = None
    url: str | None = None
    url_env: str | None = None
    query: str | None = None
    sheet: str | None = None
    time: str | None = None
    # events only
    grain: Literal["hourly", "daily"] = "daily"
    dimensions: list[str] = Field(default_factory=list)
    timestamp: str = "timestamp"
    amount: str = "amount"
    status: str = "status"
    currency: str = "currency"
    rates: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _where(self) -> SourceConfig:
        has_path = self.path is not None
        has_db = self.url is not None or self.url_env is not None
        if self.kind == "file" and not has_path:
            raise ValueError("a file source needs path = 'data/*.csv'")
        if self.kind == "sql" and not (has_db and self.query):
            raise ValueError("a sql source needs url (or url_env) and query")
        if self.kind == "events" and not (has_path or (has_db and self.query)):
            raise ValueError("an events source needs path, or url/url_env and query")
        if has_path and has_db:
            raise ValueError("give either path or url/url_env, not both")
        return self

    def database_url(self) -> str | None:
        """The SQLAlchemy URL, read from the environment when ``url_env`` is set."""
        if self.url_env:
            value = os.environ.get(self.url_env)
            if not value:
                raise ConfigError(
                    f"source {self.name!r}: environment variable {self.url_env} is not set; "
                    "export it with the database URL"
                )
            return value
        return self.url


class TierConfig(_Model):
    """The tier rule of :func:`revwatch.incidents.build.tiers` (seed 001 defaults).

    ``critical_confidence`` / ``warning_confidence`` / ``info_confidence``
    (calibrated confidence), ``critical_share`` / ``warning_share`` (impact as
    a share of the portfolio in the window), ``critical_amount`` /
    ``warning_amount`` (``|impact|``, optional). The deprecated keys of
    revwatch <= 0.x map onto it: ``critical_severity`` / ``warning_severity``
    (a normal-equivalent z) become the confidence ``Phi(z - threshold)`` of
    the metric's detector, ``critical_impact`` / ``warning_impact`` become
    ``critical_amount`` / ``warning_amount``; loading them logs a warning
    naming the new keys.
    """

    critical_confidence: float = Field(default=0.9, ge=0, le=1)
    warning_confidence: float = Field(default=0.7, ge=0, le=1)
    info_confidence: float = Field(default=0.5, ge=0, le=1)
    critical_share: float = Field(default=0.10, ge=0)
    warning_share: float = Field(default=0.03, ge=0)
    critical_amount: float | None = Field(default=None, gt=0)
    warning_amount: float | None = Field(default=None, gt=0)
    # deprecated
    critical_severity: float | None = None
    warning_severity: float | None = None
    critical_impact: float | None = None
    warning_impact: float | None = None

    @model_validator(mode="after")
    def _order(self) -> TierConfig:
        if not self.info_confidence <= self.warning_confidence <= self.critical_confidence:
            raise ValueError("confidences must satisfy info <= warning <= critical")
        if not self.warning_share <= self.critical_share:
            raise ValueError("shares must satisfy warning_share <= critical_share")
        if self.critical_impact is not None and self.critical_amount is not None:
            raise ValueError("give critical_amount only (critical_impact is its deprecated name)")
        if self.warning_impact is not None and self.warning_amount is not None:
            raise ValueError("give warning_amount only (warning_impact is its deprecated name)")
        return self

    def deprecated_keys(self) -> list[str]:
        """The deprecated keys this table sets."""
        names = ("critical_severity", "warning_severity", "critical_impact", "warning_impact")
        return [n for n in names if getattr(self, n) is not None]


class MetricConfig(_Model):
    """One watched metric: a value column of a source, scored per series."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    source: str
    value: str
    keys: list[str] = Field(default_factory=list)
    grain: (
        Literal[
            "1min",
            "5min",
            "10min",
            "15min",
            "30min",
            "hourly",
            "daily",
            "weekly",
            "fortnightly",
            "monthly",
            "quarterly",
            "yearly",
        ]
        | None
    ) = None
    method: str = "auto"
    params: dict[str, Any] = Field(default_factory=dict)
    tiers: TierConfig = Field(default_factory=TierConfig)
    active_periods: int = Field(default=1, ge=1)
    #: id columns a total breaks down by (the total is scored too; its incidents get root cause)
    dimensions: list[str] = Field(default_factory=list)
    #: periods an incident must last to be warning or above (the persistence filter)
    min_duration: int = Field(default=1, ge=1)
    #: Benjamini-Hochberg level per period; 0 switches the control off
    fdr: float = Field(default=0.05, ge=0, lt=1)
    #: money:EUR, count, ratio or percent; inferred from the column when omitted
    unit: str | None = None

    @model_validator(mode="after")
    def _dimensions(self) -> MetricConfig:
        if self.unit is not None:
            from revwatch.units import Unit

            try:
                Unit.parse(self.unit)
            except ValueError as exc:  # ParameterError is a ValueError
                raise ValueError(str(exc)) from None
        extra = [d for d in self.dimensions if d not in self.keys]
        if extra:
            raise ValueError(f"dimensions {extra} must be among keys {self.keys}")
        return self

    #: this metric's own routing (``[metrics.routing]``); None means the global ``[routing]``
    routing: RoutingConfig | None = None
    #: which directions alert; incidents of the others are stored and routed as info
    directions: list[Literal["up", "down"]] = Field(
        default_factory=lambda: cast_directions("up", "down"), min_length=1
    )


def _channels(*names: Channel) -> list[Channel]:
    return list(names)


def cast_directions(*names: Literal["up", "down"]) -> list[Literal["up", "down"]]:
    """A typed list of directions (the default of ``directions``)."""
    return list(names)


class RoutingConfig(_Model):
    """Which channels each tier goes to."""

    critical: list[Channel] = Field(default_factory=lambda: _channels("pagerduty", "slack"))
    warning: list[Channel] = Field(default_factory=lambda: _channels("slack"))
    info: list[Channel] = Field(default_factory=list)

    def channels(self, tier: str) -> list[str]:
        """The channels of one tier."""
        return list(getattr(self, tier, []))


class SlackConfig(_Model):
    """Slack incoming webhook; the URL is a secret, read from ``webhook_url_env``."""

    webhook_url_env: str = "SLACK_WEBHOOK_URL"


class PagerDutyConfig(_Model):
    """PagerDuty Events API v2."""

    url: str = "https://events.pagerduty.com"
    routing_key_env: str = "PAGERDUTY_ROUTING_KEY"
    source: str = "revwatch"


class EmailConfig(_Model):
    """SMTP delivery."""

    host: str = "localhost"
    port: int = 25
    sender: str = "revwatch@localhost"
    recipients: list[str] = Field(min_length=1)
    username_env: str | None = None
    password_env: str | None = None
    starttls: bool = False


class WebhookConfig(_Model):
    """A generic JSON webhook; ``url_env`` when the URL carries a token."""

    url: str | None = None
    url_env: str | None = None

    @model_validator(mode="after")
    def _one(self) -> WebhookConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        return self


class AlertsConfig(_Model):
    """Alert endpoints and delivery behaviour."""

    digest: bool = False
    retries: int = Field(default=4, ge=0, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0)
    max_backoff_seconds: float = Field(default=60.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    #: Each channel's time for all its sends (retries included) in one run; the rest waits.
    channel_budget_seconds: float = Field(default=120.0, gt=0)
    in_doubt: Literal["resend", "skip"] = "resend"
    #: a run alerts only incidents still open or that ended within this many days (at least
    #: one period of the metric's grain) of its newest period; older ones (a catch-up over
    #: months) are recorded silently
    recent_days: float = Field(default=7.0, ge=0)
    dashboard_url: str | None = None
    slack: SlackConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None


class FeedbackConfig(_Model):
    """How labels act on later runs."""

    suppress_days: float = Field(default=30.0, ge=0)


class WebConfig(_Model):
    """The review app (`revwatch serve`)."""

    token_env: str = Field(default="REVWATCH_API_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    open_reads: bool = False
    #: Host names the server answers to besides the bound host, localhost and 127.0.0.1.
    allowed_hosts: list[str] = Field(default_factory=list)


class Config(_Model):
    """A whole ``revwatch.toml``."""

    store: StoreConfig = Field(default_factory=StoreConfig)
    sources: list[SourceConfig] = Field(min_length=1)
    metrics: list[MetricConfig] = Field(min_length=1)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    path: str = Field(default="<config>", exclude=True)

    @model_validator(mode="after")
    def _links(self) -> Config:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError("source names must be unique")
        metric_names = [m.name for m in self.metrics]
        if len(set(metric_names)) != len(metric_names):
            raise ValueError("metric names must be unique")
        return self

    def source(self, name: str) -> SourceConfig:
        """The source called ``name``."""
        for item in self.sources:
            if item.name == name:
                return item
        raise ConfigError(f"{self.path}: no source named {name!r}")


# --------------------------------------------------------------------------
# TOML line numbers
# --------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*([A-Za-z0-9_\-."']+)\s*=""")
_INLINE_KEY = re.compile(r"""([A-Za-z0-9_\-]+)\s*=""")


def _split_key(text: str) -> list[str]:
    return [part.strip().strip("\"'") for part in text.split(".")]


def config_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each key path of a TOML document to its 1-based line number.

    Array-of-tables headers (``[[sources]]``) count their entries so that
    ``("sources", 1, "path")`` is the ``path`` key of the second
    ``[[sources]]``. Keys inside an inline table are mapped to its line.

    Examples
    --------
    >>> lines = config_lines('[store]\\nurl = "x"\\n[[sources]]\\nname = "a"\\n[[sources]]\\n'
    ...                      'name = "b"\\n[sources.rates]\\nEUR = 1.1\\n')
    >>> lines[("store", "url")], lines[("sources", 1, "name")]
    (2, 6)
    >>> lines[("sources", 1, "rates", "EUR")]
    8
    """
    out: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()

    def resolve(parts: list[str]) -> tuple[str | int, ...]:
        # a dotted header below an array of tables refers to its last entry
        path: tuple[str | int, ...] = ()
        for part in parts:
            path = (*path, part)
            if path in counts:
                path = (*path, counts[path])
        return path

    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            parts = _split_key(header.group(2))
            if header.group(1) == "[[":
                prefix = resolve(parts[:-1])
                array = (*prefix, parts[-1])
                counts[array] = counts.get(array, -1) + 1
                table = (*array, counts[array])
            else:
                table = resolve(parts)
            out.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            path = (*table, *_split_key(key.group(1)))
            out.setdefault(path, number)
            rest = line[key.end() :]
            if rest.lstrip().startswith("{"):
                for inner in _INLINE_KEY.findall(rest):
                    out.setdefault((*path, inner), number)
    return out


def _locate(
    loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> tuple[int | None, tuple[str | int, ...]]:
    loc = tuple(part for part in loc if not (isinstance(part, str) and part.startswith("function")))
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]], loc
    return None, loc


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _message(error: dict[str, Any], path: str, lines: dict[tuple[str | int, ...], int]) -> str:
    loc = tuple(error["loc"])
    if loc and loc[-1] == "schema_name":
        loc = (*loc[:-1], "schema")
    number, loc = _locate(loc, lines)
    where = f"{path}:{number}" if number else path
    key = _dotted(loc)
    kind = error["type"]
    last = loc[-1] if loc else ""
    msg = str(error["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        fix = f"add {last} = ... to this table"
    elif kind == "extra_forbidden":
        fix = f"remove or rename {last!r} (see `revwatch config init` for the known keys)"
    elif isinstance(last, str) and last:
        fix = f"fix the value of {last!r}"
    else:
        fix = "see `revwatch config init` for an example"
    if kind == "extra_forbidden":
        msg = "unknown key"
    return f"{where}: {key}: {msg} ({fix})"


def parse_config(text: str, *, path: str = "<config>") -> Config:
    """Parse and validate a config from TOML text.

    Parameters
    ----------
    text : str
        The TOML document.
    path : str
        The file name used in messages.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        On a TOML syntax error or the first schema violation; the message
        names ``path:line``, the key, and the fix.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc} (fix the syntax there)") from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        lines = config_lines(text)
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (+{more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(_message(dict(first), path, lines) + suffix) from None
    config = config.model_copy(update={"path": path})
    _check_links(config, text)
    return config


def _check_links(config: Config, text: str) -> None:
    lines = config_lines(text)
    names = {s.name for s in config.sources}
    for i, metric in enumerate(config.metrics):
        if metric.source not in names:
            number, _ = _locate(("metrics", i, "source"), lines)
            raise ConfigError(
                f"{config.path}:{number}: metrics[{i}].source: no source named "
                f"{metric.source!r} (use one of {', '.join(sorted(names))})"
            )
        source = config.source(metric.source)
        if source.kind == "events" and metric.value not in EVENT_METRICS:
            number, _ = _locate(("metrics", i, "value"), lines)
            raise ConfigError(
                f"{config.path}:{number}: metrics[{i}].value: {metric.value!r} is not an events "
                f"metric (use one of {', '.join(EVENT_METRICS)})"
            )
        old = metric.tiers.deprecated_keys()
        if old:
            number, _ = _locate(("metrics", i, "tiers", old[0]), lines)
            new = {
                "critical_severity": "critical_confidence",
                "warning_severity": "warning_confidence",
                "critical_impact": "critical_amount",
                "warning_impact": "warning_amount",
            }
            logger.warning(
                "%s:%s: metrics[%d].tiers: %s deprecated; use %s (severities are mapped to "
                "the confidence Phi(severity - threshold) of the metric's detector)",
                config.path,
                number,
                i,
                ", ".join(old) + (" is" if len(old) == 1 else " are"),
                ", ".join(new[k] for k in old),
            )
    routes: list[tuple[tuple[str | int, ...], str, RoutingConfig]] = [
        (("routing",), "routing", config.routing)
    ]
    for i, metric in enumerate(config.metrics):
        if metric.routing is not None:
            routes.append((("metrics", i, "routing"), f"metrics[{i}].routing", metric.routing))
    for where, label, routing in routes:
        for tier in ("critical", "warning", "info"):
            for channel in routing.channels(tier):
                if getattr(config.alerts, channel) is None:
                    number, _ = _locate((*where, tier), lines)
                    raise ConfigError(
                        f"{config.path}:{number}: {label}.{tier}: channel {channel!r} has no "
                        f"[alerts.{channel}] table (add one or remove it from the route)"
                    )


def load_config(path: str | Path) -> Config:
    """Read and validate a config file.

    Relative ``path`` entries of file sources and a relative SQLite store are
    resolved against the config file's folder.

    Raises
    ------
    ConfigError
        When the file is missing or invalid.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{file}: cannot read the config ({exc.strerror}); "
            "create one with `revwatch config init`"
        ) from None
    config = parse_config(text, path=str(file))
    base = file.resolve().parent
    sources = [
        s.model_copy(update={"path": str(base / s.path)})
        if s.path and not Path(s.path).is_absolute()
        else s
        for s in config.sources
    ]
    store = config.store
    prefix = "sqlite:///"
    if store.url.startswith(prefix) and not store.url.startswith(prefix + "/"):
        relative = store.url[len(prefix) :]
        if relative and relative != ":memory:":
            store = store.model_copy(update={"url": prefix + str(base / relative)})
    if store.features_dir and not Path(store.features_dir).is_absolute():
        store = store.model_copy(update={"features_dir": str(base / store.features_dir)})
    return config.model_copy(update={"sources": sources, "store": store})


#: The commented example written by ``revwatch config init``; it validates.
EXAMPLE_CONFIG = """\
# revwatch monitoring config: `revwatch run --config revwatch.toml`
# Validate with `revwatch config validate revwatch.toml`.

[store]
# SQLAlchemy URL: a SQLite file (default) or PostgreSQL, e.g.
# "postgresql+psycopg://revwatch@db.internal/revwatch"
url = "sqlite:///revwatch.db"
# schema = "revwatch"             # PostgreSQL schema (optional)
features_dir = "revwatch-features"  # partitioned Parquet of every score (back-testing)

# --- where the data comes from -------------------------------------------
[[sources]]
name = "mrr"
kind = "file"                 # file | sql | events
path = "data/mrr-*.csv"       # a file or a glob: CSV, Parquet, Excel
time = "month"

# [[sources]]
# name = "warehouse"
# kind = "sql"
# url_env = "REVWATCH_DB_URL"   # the URL (with its password) from the environment
# query = "select account, month, mrr from mrr_monthly"

# [[sources]]
# name = "payments"
# kind = "events"               # raw payment events -> seed 001 metric vector
# path = "events/*.parquet"     # columns: timestamp, amount, currency, status, ...
# grain = "daily"               # hourly | daily
# dimensions = ["country", "payment_method"]
# rates = { EUR = 1.08, GBP = 1.27 }   # to the reporting currency, if several

# --- what to watch ---------------------------------------------------------
[[metrics]]
name = "mrr"
source = "mrr"
value = "revenue"             # the column (events: revenue, transaction_count,
                              # avg_order_value, payment_success_rate, refund_rate)
keys = ["account"]            # series key columns
grain = "monthly"
method = "auto"               # see `revwatch methods`; retrospective methods are refused
params = {}                   # method parameters, e.g. { threshold = 4.0 }
active_periods = 1            # an incident is back to normal after this many clean periods

# [metrics.routing]           # this metric's own routing; default: [routing] below
# critical = ["pagerduty"]

# unit = "money:USD"          # money:<ISO code>, count, ratio or percent (default: inferred)
# dimensions = ["region"]     # keys a total breaks down by: the total gets root cause lines
# min_duration = 1            # periods an incident must last to be warning or above
# fdr = 0.05                  # false discovery rate per period (0: off)

[metrics.tiers]               # the highest of the three rules wins
critical_confidence = 0.9     # calibrated confidence of the peak deviation
warning_confidence = 0.7
critical_share = 0.10         # |impact| as a share of the portfolio in the window
warning_share = 0.03
critical_amount = 20000.0     # |impact| in the metric's unit (optional)
# warning_amount = 5000.0

# --- who hears about it (seed 001: critical pages, warning -> Slack) -----
[routing]
critical = ["pagerduty", "slack"]
warning = ["slack"]
info = []                     # info stays on the record

[alerts]
digest = false                # true: one Slack/email/webhook message per run
retries = 4                   # on 429 and 5xx, exponential backoff, Retry-After honoured
backoff_seconds = 1.0
in_doubt = "resend"           # a send interrupted by a crash: resend (at-least-once) or skip

[alerts.slack]
webhook_url_env = "SLACK_WEBHOOK_URL"

[alerts.pagerduty]
url = "https://events.pagerduty.com"
routing_key_env = "PAGERDUTY_ROUTING_KEY"

# [alerts.email]
# host = "smtp.internal"
# port = 587
# starttls = true
# sender = "revwatch@example.com"
# recipients = ["revenue-oncall@example.com"]
# username_env = "SMTP_USER"
# password_env = "SMTP_PASSWORD"

# [alerts.webhook]
# url_env = "REVWATCH_WEBHOOK_URL"

[feedback]
suppress_days = 30            # a benign label silences the same series/type/direction this long

[web]                         # `revwatch serve`
token_env = "REVWATCH_API_TOKEN"  # the API token (Bearer) comes from this variable
open_reads = false            # true: pages and API reads without the token
"""
