"""Placeholder router; filled in by the admin feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
