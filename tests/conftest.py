"""Puts `tests/` on the import path, so that helpers every part of the suite shares (such as
`disk_support`) live once, beside this file."""

import os

# The suite asks no network service. Online, a scan looks every release up in PyPI's JSON API; the
# tests of that client serve a fake API on loopback and lift this for themselves.
os.environ["CHAINPROOF_OFFLINE"] = "1"
