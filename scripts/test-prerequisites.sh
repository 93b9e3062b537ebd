#!/usr/bin/env bash
# What the test suite needs beyond .venv, set up when missing (best effort; run by `make test`):
# - the PostgreSQL server on 127.0.0.1:5432 (tests marked `postgres`), started if it stopped;
# - Debian's chromium for the browser tests (tests/test_web_browser.py skips without it).
set -u
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  fi
fi
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
    || echo "chromium could not be installed: the browser tests will be skipped" >&2
fi
exit 0
