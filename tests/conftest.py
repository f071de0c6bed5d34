"""Puts `tests/` on the import path, so that helpers every part of the suite shares (such as
`disk_support`) live once, beside this file."""

import os

# The suite asks no network service. Online, a scan looks every release up in PyPI's JSON API; the
# tests of that client serve a fake API on loopback and lift this for themselves.
os.environ["CHAINPROOF_OFFLINE"] = "1"

# A throwaway PostgreSQL server and a fresh database per test, for the PostgreSQL store's tests
# (imported here so that every test directory has the fixtures).
from pg_support import postgres_server, postgres_url  # noqa: F401
