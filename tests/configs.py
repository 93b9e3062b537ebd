"""The monitor's TOML configs for the tests, each block written once.

The tests of the monitor, the web app, the store and the alert channels all run `revwatch run` on
the seed's monthly MRR (one CSV source, one metric per account) and deliver to some of the same
four channels. :func:`mrr_config` puts those blocks together; what a test varies (the store,
tiers, routing, alert settings, channels) is an argument. The text stays a ``str.format``
template: a test formats its placeholders (``{folder}``, ``{pd_url}``, ``{smtp_port}``, ...)
where it knows them, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Every channel the tests deliver to, in the order the blocks are written.
CHANNELS = ("slack", "pagerduty", "webhook", "email")


class Raw(str):
    """A value written as it is: a number placeholder the test formats (``{smtp_port}``)."""

    __slots__ = ()


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def table(name: str, values: Mapping[str, object], *, array: bool = False) -> str:
    """A ``[name]`` table (``[[name]]`` with ``array``) of ``key = value`` lines."""
    header = f"[[{name}]]" if array else f"[{name}]"
    return "\n".join([header, *(f"{k} = {_value(v)}" for k, v in values.items())])


def store(url: str, *, features_dir: str = "", schema: bool = False) -> str:
    """``[store]``; ``schema=True`` leaves a ``{schema}`` line for the test to fill."""
    lines = ["[store]", f'url = "{url}"']
    if schema:
        lines.append("{schema}")
    lines.append(f'features_dir = "{features_dir}"')
    return "\n".join(lines)


def mrr_source(path: str = "{folder}/mrr.csv") -> str:
    """The MRR source and its metric: revenue per account, monthly."""
    source = {"name": "mrr", "path": path, "time": "month"}
    metric = {
        "name": "mrr",
        "source": "mrr",
        "value": "revenue",
        "keys": ["account"],
        "grain": "monthly",
    }
    return table("sources", source, array=True) + "\n\n" + table("metrics", metric, array=True)


def routing(**tiers: Sequence[str]) -> str:
    """``[routing]``: tier -> channels."""
    return table("routing", {tier: list(names) for tier, names in tiers.items()})


_LOGIN = {"username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"}


def channels(
    *names: str,
    sender: str = "revwatch@test",
    email_login: bool = False,
    webhook_url: str | None = None,
) -> str:
    """The ``[alerts.<channel>]`` blocks of ``names``: Slack, PagerDuty and the webhook with
    their secrets from the environment (the webhook at ``webhook_url`` if given), email to the
    test's SMTP server on ``{smtp_port}``, PagerDuty at ``{pd_url}``."""
    blocks = {
        "slack": {"webhook_url_env": "SLACK_WEBHOOK_URL"},
        "pagerduty": {"url": "{pd_url}", "routing_key_env": "PAGERDUTY_ROUTING_KEY"},
        "webhook": {"url": webhook_url} if webhook_url else {"url_env": "REVWATCH_WEBHOOK_URL"},
        "email": {
            "host": "127.0.0.1",
            "port": Raw("{smtp_port}"),
            "sender": sender,
            "recipients": ["oncall@test"],
            **(
                {"username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"}
                if email_login
                else {}
            ),
        },
    }
    unknown = set(names) - set(blocks)
    assert not unknown, f"unknown channels {sorted(unknown)}"
    return "\n\n".join(table(f"alerts.{n}", blocks[n]) for n in CHANNELS if n in names)


def mrr_config(
    *,
    store_block: str,
    routes: str,
    tiers: Mapping[str, float] | None = None,
    alerts: Mapping[str, object] | None = None,
    delivers_to: Sequence[str] = (),
    source_path: str = "{folder}/mrr.csv",
    extra: str = "",
    **channel_options: object,
) -> str:
    """A whole config on the MRR source: store, source and metric, tiers, routing, alerts."""
    blocks = [store_block, mrr_source(source_path)]
    if tiers:
        blocks.append(table("metrics.tiers", tiers))
    blocks.append(routes)
    if alerts:
        blocks.append(table("alerts", alerts))
    if delivers_to:
        blocks.append(channels(*delivers_to, **channel_options))  # type: ignore[arg-type]
    if extra:
        blocks.append(extra)
    return "\n" + "\n\n".join(blocks) + "\n"
