"""Monitoring: the scheduled run over a TOML config and what it keeps.

:mod:`~revwatch.monitor.config` (the config), :mod:`~revwatch.monitor.runner` (one
run: sources, detection, incidents, delivery, and the health checks),
:mod:`~revwatch.monitor.store` (the SQLAlchemy store and delivery ledger),
:mod:`~revwatch.monitor.alerts` (channels), :mod:`~revwatch.monitor.payment_events`
(raw payment events to seed 001's metrics) and :mod:`~revwatch.monitor.runlock`."""
