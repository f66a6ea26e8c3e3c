"""``cenr db upgrade``: the schema migrations."""

from __future__ import annotations

import argparse

from worker.settings import get_settings


def db_upgrade(args: argparse.Namespace) -> int:
    from schema.database import head_revision, upgrade

    settings = get_settings()
    url = settings.resolved_database_url
    if not settings.database_url:  # the embedded default: its folder may not exist yet
        settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    print(f"database schema at {head_revision()}")
    return 0
