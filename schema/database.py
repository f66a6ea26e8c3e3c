"""Engine, sessions and the schema-version check.

The embedded default (a SQLite file that does not exist yet) is migrated on first use,
so one command works on a fresh machine. An existing database whose schema is behind
is refused with the command that fixes it: nothing silently changes a shared database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from schema.errors import DatabaseError, DatabaseUnavailable


def aware(value: datetime) -> datetime:
    """A stored time in UTC: SQLite gives ``DateTime(timezone=True)`` columns back without
    their zone (PostgreSQL keeps it); every time this service stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


# A worker host that drops off the network mid-transaction keeps its row locks until
# PostgreSQL notices it is gone: by default the kernel's two-hour TCP keepalive, and every
# other worker storing the same documents waits that long. These session settings make
# the server probe an idle client after 10 s and drop it after 3 unanswered probes, or
# when sent data goes unacknowledged for 30 s; the client side probes the server alike.
PG_SERVER_LIVENESS = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 "
    "-c tcp_user_timeout=30000"
)
PG_CLIENT_LIVENESS = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                      "keepalives_count": 3}  # fmt: skip


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict[str, object] = {}
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        own = parsed.query.get("options", "")
        own = own if isinstance(own, str) else " ".join(own)
        connect_args = {**PG_CLIENT_LIVENESS, "options": f"{PG_SERVER_LIVENESS} {own}".strip()}
    # pre_ping: a connection that died with a database restart is replaced, not used.
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def upgrade(url: str) -> None:
    """Apply every migration (``cenr db upgrade``)."""
    try:
        command.upgrade(alembic_config(url), "head")
    except OperationalError as exc:
        raise DatabaseError(f"cannot migrate {_safe(url)}: {exc.orig}") from exc


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot reach the database {_safe(str(engine.url))}: {exc.orig}"
        ) from exc


def open_database(url: str) -> Engine:
    """An engine on a database whose schema is current.

    A new embedded SQLite file is created and migrated; any other database that is
    behind raises :class:`DatabaseError` naming ``cenr db upgrade``.
    """
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        make_engine(url).dispose()
        upgrade(url)
    engine = make_engine(url)
    current, head = current_revision(engine), head_revision()
    if current != head:
        engine.dispose()
        raise DatabaseError(
            f"the database schema is at {current or 'nothing'}, the code needs {head}: "
            "run `cenr db upgrade`"
        )
    return engine


def is_disconnect(exc: BaseException) -> bool:
    """True for errors that a retry can cure: no connection, a connection lost, a lock.

    SQLite reports a missing table as an OperationalError too; that one is permanent.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError) and type(exc.orig).__module__.startswith("sqlite3"):
        return "locked" in str(exc.orig) or "busy" in str(exc.orig)
    return isinstance(exc, OperationalError | InterfaceError)


def as_database_error(exc: SQLAlchemyError) -> DatabaseError:
    if is_disconnect(exc):
        return DatabaseUnavailable(f"database unavailable: {' '.join(str(exc).split())[:500]}")
    return DatabaseError(f"database error: {exc}")


def _rollback_quietly(session: Session) -> None:
    with contextlib.suppress(SQLAlchemyError):  # the connection is already gone
        session.rollback()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        _rollback_quietly(session)
        raise as_database_error(exc) from exc
    except BaseException:
        _rollback_quietly(session)
        raise
    finally:
        session.close()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
