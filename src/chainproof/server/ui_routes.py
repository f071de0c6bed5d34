"""The server's ui routes (placeholder: filled in by the ui work)."""

from __future__ import annotations

from fastapi import APIRouter

routes = APIRouter()
