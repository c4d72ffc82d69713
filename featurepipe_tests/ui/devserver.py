"""`dagster dev` or `dg dev` for real, on loopback, in its own process group: started, waited for
until featurepipe's code location has loaded, queried through GraphQL, stopped with Ctrl-C, and
checked to leave no process behind."""

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from featurepipe_tests.conftest import free_port

# Seconds from the start for the UI to come up, by default; the shutdown that follows takes at
# most SHUTDOWN_GRACE + 20.
STARTUP_BY = 50
SHUTDOWN_GRACE = 15
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy, ever


# The UI's own GraphQL calls for a backfill: launch one, then follow its status and runs.
LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status runs(limit: 20) { id status tags { key value } } }
    ... on PythonError { message }
  }
}"""


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    """A GraphQL call to the webserver at `url`, never through a proxy; errors fail the test."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with DIRECT.open(request, timeout=30) as response:
        payload = json.load(response)
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


@dataclass
class DevServer:
    process: subprocess.Popen
    port: int
    log: Path
    started: float

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return graphql(self.url, query, variables)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return self.text()[-4000:]


def loopback_env(env: dict[str, str]) -> dict[str, str]:
    """Loopback only: never through a proxy, whatever the environment says."""
    return {**env, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


@contextlib.contextmanager
def serving(
    command: list[str], cwd: Path, env: dict[str, str], log: Path, startup_by: float = STARTUP_BY
) -> Iterator[DevServer]:
    """Run `command` (`dagster dev ...` or `dg dev ...`) with a free port on 127.0.0.1 until the
    block ends, then Ctrl-C it; fail if it was not up after `startup_by` seconds or did not
    stop cleanly."""
    port = free_port()
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)],
            cwd=cwd,
            env=loopback_env(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: every child can be found and ended
            preexec_fn=_restore_sigint,
        )
    server = DevServer(process, port, log, started)
    try:
        _wait_until_loaded(server, startup_by)
        yield server
    finally:
        clean = _shut_down(process)
    assert clean, (
        f"{command[0]} dev left processes behind or did not stop on Ctrl-C\n{server.tail()}"
    )


def _restore_sigint() -> None:
    # A shell that starts pytest in the background ignores SIGINT, and ignored signals are
    # inherited: give the server back its Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_until_loaded(server: DevServer, startup_by: float) -> None:
    while True:
        assert server.process.poll() is None, f"the server exited\n{server.tail()}"
        assert server.elapsed() < startup_by, f"the server did not come up\n{server.tail()}"
        with contextlib.suppress(OSError, ValueError):
            with DIRECT.open(f"{server.url}/server_info", timeout=5) as response:
                info = json.load(response)
            if "dagster_webserver_version" in info and _location_loaded(server):
                return
        time.sleep(1)


def _location_loaded(server: DevServer) -> bool:
    data = server.graphql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
        "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
    )
    entries = data["workspaceOrError"]["locationEntries"]
    for entry in entries:
        error = entry["locationOrLoadError"]
        assert error is None or error["__typename"] != "PythonError", error
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _shut_down(process: subprocess.Popen) -> bool:
    """Ctrl-C, as a person would; then make sure, by force if need be, that nothing is left.
    True when everything stopped on its own."""
    pgid = process.pid
    clean = True
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(SHUTDOWN_GRACE)
        except subprocess.TimeoutExpired:
            clean = False
    clean = clean and process.returncode == 0
    if not _wait_group_gone(pgid, 10):
        clean = False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        if not _wait_group_gone(pgid, 3):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
    process.wait(5)
    return clean and not _group_alive(pgid)
