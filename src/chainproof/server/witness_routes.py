"""The server's witness routes (placeholder: filled in by the witness work)."""

from __future__ import annotations

from fastapi import APIRouter

routes = APIRouter()
