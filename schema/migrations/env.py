"""Alembic environment: runs migrations on the URL set by ``schema.database``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from schema.tables import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "schema.database.alembic_config sets sqlalchemy.url"

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
