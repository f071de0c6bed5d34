"""The server's vault routes (placeholder: filled in by the vault work)."""

from __future__ import annotations

from fastapi import APIRouter

routes = APIRouter()
