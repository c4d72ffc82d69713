"""Local scratch space for files on their way into a bucket or out of one.

Every staging directory lives under one root (the configured one, FEATUREPIPE_STAGING_DIR,
else `<system temp>/featurepipe-staging`) and is named after the process that made it, so a
run that was killed leaves directories the next run can recognise as orphaned and remove.
Names carry the host too (`<pid>@<host>~…`): a directory shared between machines (or pods,
each with its own pids) is only ever swept of its own host's dead processes' leftovers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path


def staging_root(configured: str | None = None) -> Path:
    return Path(configured or os.path.join(tempfile.gettempdir(), "featurepipe-staging"))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    # A killed process nobody has reaped yet (a zombie) still answers signal 0.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


HOST = socket.gethostname()


def owner_pid(name: str) -> int | None:
    """The pid of this host that made a staging name (`<pid>@<host>~<random>...`); None for
    any other name, another host's included."""
    owner, tilde, _ = name.partition("~")
    pid, at, host = owner.partition("@")
    return int(pid) if tilde and at and host == HOST and pid.isdigit() else None


def tag(pid: int | None = None) -> str:
    """`<pid>@<host>~`, the start of every staging name a process makes (this one's by default)."""
    return f"{pid or os.getpid()}@{HOST}~"


def reclaim(directory: Path, prefix: str = "") -> list[Path]:
    """Remove entries of `directory` starting with `prefix` whose owning process is gone."""
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in directory.iterdir():
            if not entry.name.startswith(prefix):
                continue
            pid = owner_pid(entry.name[len(prefix) :])
            if pid is None or pid == os.getpid() or pid_alive(pid):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed.append(entry)
    return removed


def reclaim_orphans(configured: str | None = None) -> list[Path]:
    """Staging directories of processes that no longer run (a killed run's leftovers)."""
    return reclaim(staging_root(configured))


@contextlib.contextmanager
def staging_dir(configured: str | None = None) -> Iterator[Path]:
    """A fresh directory under the staging root, removed with everything in it on exit."""
    root = staging_root(configured)
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=root, prefix=tag()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
