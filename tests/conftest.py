"""Puts `tests/` on the import path, so that helpers every part of the suite shares (such as
`disk_support`) live once, beside this file."""
