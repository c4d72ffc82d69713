"""A throwaway PostgreSQL server on loopback, for the tests of the production instance.

The server binaries are found on PATH or in /usr/lib/postgresql/<version>/bin. initdb refuses
to run as root, so as root the server runs as the `postgres` user the Debian package creates.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from featurepipe_tests.conftest import free_port

DEBIAN_ROOT = Path("/usr/lib/postgresql")
OWNER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No way to run a PostgreSQL server here; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    base: Path

    def dsn(self, dbname: str) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": dbname,
        }


def find_bin_dir() -> Path:
    """The directory holding initdb and pg_ctl: PATH first, then the newest Debian version."""
    on_path = shutil.which("initdb")
    if on_path:
        bin_dir = Path(on_path).resolve().parent
        if (bin_dir / "pg_ctl").exists():
            return bin_dir
    versions = [
        p.parent for p in DEBIAN_ROOT.glob("*/bin/initdb") if (p.parent / "pg_ctl").exists()
    ]
    if versions:
        return max(versions, key=lambda d: _version(d.parent.name))
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found: no initdb/pg_ctl on PATH or in "
        f"{DEBIAN_ROOT}/*/bin (Debian: apt-get install postgresql)"
    )


def _version(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (0,)


def _owner() -> pwd.struct_passwd | None:
    """The account the server runs as: None for the current user, `postgres` for root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OWNER)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root, and initdb refuses root, but there is no {OWNER!r} user to run "
            "PostgreSQL as (Debian's postgresql package creates it)"
        ) from None


def _as_owner(argv: list[str], owner: pwd.struct_passwd | None) -> list[str]:
    if owner is None:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", owner.pw_name, "--", *argv]
    return ["su", owner.pw_name, "-s", "/bin/sh", "-c", shlex.join(argv)]


def _run(
    argv: list[str], owner: pwd.struct_passwd | None, what: str, log: Path | None = None
) -> None:
    done = subprocess.run(
        _as_owner(argv, owner), capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        server_log = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
        raise RuntimeError(
            f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{server_log}"
        )


def start(user: str, password: str) -> PostgresServer:
    """initdb into a fresh temp dir and start a server on 127.0.0.1 and a free port.

    Durability is switched off (fsync, synchronous_commit): the data is thrown away anyway.
    """
    bin_dir = find_bin_dir()
    owner = _owner()
    base = Path(tempfile.mkdtemp(prefix="featurepipe-pg-"))
    try:
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n")
        if owner is not None:
            for path in (base, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        data = base / "data"
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            owner,
            "initdb",
        )
        port = free_port()
        options = " ".join(
            [
                f"-p {port}",
                f"-k {base}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        _run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            owner,
            "pg_ctl start",
            log=base / "server.log",
        )
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return PostgresServer("127.0.0.1", port, user, password, base)


def stop(server: PostgresServer) -> None:
    """Stop the server at once and remove its files."""
    try:
        _run(
            [
                str(find_bin_dir() / "pg_ctl"),
                "-D",
                str(server.base / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            _owner(),
            "pg_ctl stop",
        )
    finally:
        shutil.rmtree(server.base, ignore_errors=True)
