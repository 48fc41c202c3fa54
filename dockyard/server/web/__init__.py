"""The dashboard: server-rendered pages on `dockyard server` at /, for a session opened with a token."""

from __future__ import annotations

from fastapi import APIRouter

from dockyard.server.web import login, logs, metrics, pages, runs, tokens

router = APIRouter(include_in_schema=False)
router.include_router(login.router)
router.include_router(pages.router)
router.include_router(runs.router)
router.include_router(metrics.router)
router.include_router(logs.router)
router.include_router(tokens.router)
