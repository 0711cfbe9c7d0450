"""A real PostgreSQL server on this machine, for tests and benchmarks: Debian's ``postgresql`` binaries,
``initdb`` into a directory of ours, listening on 127.0.0.1 only, trust authentication for one role.

Nothing here is for production (use your own PostgreSQL and ``NEWSMON_STATE_URL``). PostgreSQL refuses to
run as root, so under root the cluster belongs to the ``postgres`` system user the package creates.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from newsmon.errors import NewsmonError

__all__ = ["LocalPostgres", "postgres_bin_dir"]

_ROLE = "newsmon"


def postgres_bin_dir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: on PATH, else Debian's newest ``/usr/lib/postgresql/<v>/bin``."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise NewsmonError("PostgreSQL is not installed: apt-get install postgresql (Debian) gives initdb and pg_ctl")
    return versions[-1].parent


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in ``root`` on 127.0.0.1:``port``; ``durable=False`` trades crash safety for speed
    (fsync off), which is what a test session wants."""

    root: Path
    port: int
    durable: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = _ROLE) -> str:
        return f"postgresql://{_ROLE}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60) -> str:
        """Create the cluster on first use, start it, wait until it accepts connections; returns the URL of an
        empty database of the same name as the role."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self._own(self.root)
            self._run("initdb", "-D", str(self.data_dir), "-U", _ROLE, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-o", options, "-w", "-t", f"{timeout:g}", "start"
        )
        self._wait(timeout)
        self.create_database(_ROLE)
        return self.url()

    def create_database(self, name: str) -> str:
        """An empty database ``name`` (kept if it exists); returns its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown); its data stays."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)

    def _wait(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                    raise NewsmonError(f"PostgreSQL did not start on 127.0.0.1:{self.port}: {exc}\n{tail}") from exc
                time.sleep(0.2)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(postgres_bin_dir() / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise NewsmonError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
