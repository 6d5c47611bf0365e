"""The child sandbox, with real processes: what a sandboxed stdio server can and cannot reach.

These need root (or CAP_SETUID+CAP_SETGID+CAP_KILL) and bubblewrap; they skip with the reason
otherwise. CI runs as root and installs bubblewrap (.ci/run), so they run there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import Isolation
from mcp_gateway.process.run import run_command
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.process.spawn import spawn
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.process.procs import processes_with
from tests.upstream.conftest import TINY_SERVER, poll_until, stdio_config, text_of

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root here (CI runs as root)"),
    pytest.mark.skipif(
        not os.access("/usr/bin/bwrap", os.X_OK),
        reason="bubblewrap not installed (apt-get install bubblewrap; .ci/run does it)",
    ),
]

DATA_FILES = ("secrets.key", "gateway.db", "admin-api-key")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir outside /tmp (a sandbox has its own /tmp) holding canary files that are even
    world-readable: the sandbox must hide them, not only the file modes."""
    path = Path(tempfile.mkdtemp(prefix="mcpgw-data-", dir="/var/tmp"))
    path.chmod(0o755)
    for name in DATA_FILES:
        (path / name).write_text(f"canary-{name}-{secrets.token_hex(4)}")
        (path / name).chmod(0o644)
    (path / "packages").mkdir(mode=0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def box(data_dir: Path) -> Sandbox:
    sandbox = Sandbox.detect(
        "required",
        bwrap="/usr/bin/bwrap",
        setpriv="/usr/bin/setpriv",
        uid_base=150_000,
        uid_count=50,
        hidden=(data_dir,),
        exposed=(Path(sys.prefix), Path(sys.base_prefix), data_dir / "packages"),
        homes=data_dir / "sandbox-homes",
    )
    assert sandbox.enabled, sandbox.status.reason
    return sandbox


@pytest.fixture
async def pool(sqlite_store: Store, box: Sandbox) -> AsyncIterator[UpstreamPool]:
    settings = UpstreamSettings(busy_wait=0.1)
    async with UpstreamPool(sessions=sqlite_store, settings=settings, sandbox=box) as opened:
        yield opened


async def _call(pool: UpstreamPool, tool: str, user: str = "alice", **args: Any) -> str:
    server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER)
    env = {"USER_CANARY": f"{user}-canary"} if user == "bob" else None
    return text_of(await pool.call_tool(server, tool, args, username=user, env=env))


async def test_a_sandboxed_server_still_answers_tool_calls(pool: UpstreamPool) -> None:
    assert await _call(pool, "echo", text="hello") == "hello"


async def test_a_sandboxed_server_cannot_read_the_data_directory(
    pool: UpstreamPool, data_dir: Path
) -> None:
    for name in DATA_FILES:
        assert (data_dir / name).read_text().startswith("canary-")  # readable to the gateway
        text = await _call(pool, "read_file", path=str(data_dir / name))
        assert text.startswith("ERROR"), f"{name} was readable: {text!r}"
        assert "canary" not in text


async def test_a_sandboxed_server_cannot_read_the_gateways_environment(pool: UpstreamPool) -> None:
    canary = f"gateway-env-canary-{secrets.token_hex(4)}"
    # /proc/<pid>/environ shows the environment a process was started with: the canary goes
    # into a child started now, standing in for the gateway as the fixture sees it.
    gateway = await anyio.open_process(
        [sys.executable, "-c", "import time; time.sleep(60)"], env={"CANARY": canary}
    )
    try:
        assert canary in _environ_of(gateway.pid)  # readable to the gateway itself
        for pid in (os.getpid(), gateway.pid):
            text = await _call(pool, "read_file", path=f"/proc/{pid}/environ")
            assert text.startswith("ERROR"), text
            assert canary not in text
    finally:
        gateway.kill()
        await gateway.wait()
        await gateway.aclose()
    listing = json.loads(await _call(pool, "list_proc"))
    assert canary not in json.dumps(listing)
    assert len(listing["pids"]) <= 3  # bwrap's init, the server, maybe a transient one


async def test_per_user_instances_have_distinct_uids_and_cannot_see_each_other(
    pool: UpstreamPool, box: Sandbox
) -> None:
    bob = json.loads(await _call(pool, "whoami", user="bob"))
    alice = json.loads(await _call(pool, "whoami", user="alice"))
    assert alice["uid"] != bob["uid"]
    assert {alice["uid"], bob["uid"]} <= box.leased
    assert 0 not in (alice["uid"], alice["gid"], bob["uid"], bob["gid"])
    assert alice["groups"] == [] or alice["groups"] == [alice["gid"]]
    # Bob's secret is in Bob's process environment; Alice cannot find it anywhere.
    assert await _call(pool, "print_env", user="bob", name="USER_CANARY") == "bob-canary"
    listing = await _call(pool, "list_proc")
    assert "bob-canary" not in listing
    for pid in _host_pids_of_sandboxes():
        text = await _call(pool, "read_file", path=f"/proc/{pid}/environ")
        assert "bob-canary" not in text


async def test_home_is_private_to_each_instance_and_removed_when_it_stops(
    pool: UpstreamPool, box: Sandbox
) -> None:
    alice = json.loads(await _call(pool, "whoami", user="alice"))
    bob = json.loads(await _call(pool, "whoami", user="bob"))
    assert alice["home"] == alice["cwd"] != os.environ.get("HOME")
    assert await _call(pool, "write_file", path=f"{alice['home']}/note") == "ok"
    assert await _call(pool, "read_file", path=f"{alice['home']}/note") == "written"
    assert (await _call(pool, "read_file", user="bob", path=f"{bob['home']}/note")).startswith(
        "ERROR"
    )
    assert box.homes is not None
    assert len(list(box.homes.iterdir())) == 2
    await pool.remove("fx")
    assert list(box.homes.iterdir()) == []
    assert box.leased == frozenset()


async def test_a_sandboxed_servers_daemon_dies_with_it(pool: UpstreamPool) -> None:
    token = f"mcpgw-daemon-{secrets.token_hex(6)}"
    assert (await _call(pool, "daemonize", token=token)).isdigit()
    await poll_until(lambda: len(processes_with(token)) == 1, within=10)
    await pool.remove("fx")
    await poll_until(lambda: not processes_with(token), within=10)


async def test_a_sandboxed_installer_command_cannot_read_the_data_directory(
    box: Sandbox, data_dir: Path, tmp_path: Path
) -> None:
    script = (
        "import sys, pathlib\n"
        "pathlib.Path(sys.argv[2], 'out').write_text('installed')\n"
        "print(open(sys.argv[1]).read())\n"
    )
    secret = data_dir / "secrets.key"
    result = await run_command(
        [sys.executable, "-c", script, str(secret), str(tmp_path)],
        time_limit=30,
        sandbox=box,
    )
    assert not result.ok
    assert "canary" not in result.output
    assert (tmp_path / "out").read_text() == "installed"  # it still writes its install dir
    unsandboxed = await run_command(
        [sys.executable, "-c", script, str(secret), str(tmp_path)], time_limit=30
    )
    assert "canary" in unsandboxed.output  # the same command outside reads it


def _environ_of(pid: int) -> str:
    return Path(f"/proc/{pid}/environ").read_text()


def _host_pids_of_sandboxes() -> list[int]:
    """Every process on the host running as a sandbox uid (150000..150049)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if 150_000 <= entry.stat().st_uid < 150_050:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


PLAIN_PYTHON = Path("/usr/bin/python3")  # the test venv's may sit below a private /root
REPO_ROOT = Path(__file__).resolve().parents[2]


def _usable_by_others(python: Path, root: Path) -> bool:
    return python.exists() and all(p.stat().st_mode & 0o001 for p in [root, *root.parents])


UNPRIVILEGED_GATEWAY = """
import json, subprocess, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from mcp_gateway.process.sandbox import Sandbox
box = Sandbox.detect("required", bwrap="/usr/bin/bwrap", setpriv="/usr/bin/setpriv",
                     uid_base=150_100, uid_count=5, hidden=[Path(sys.argv[2])])
probe = "id -u; echo $HOME; touch $HOME/x && echo home-ok; ls /proc; cat " + sys.argv[2] + "/*"
launch = box.launch(["sh", "-c", probe], uid=150_101, env={"PATH": "/usr/bin:/bin"}, cwd=None)
done = subprocess.run(launch.argv, env=launch.env, cwd=launch.cwd, capture_output=True, text=True)
print(json.dumps({"status": box.status.as_dict(), "out": done.stdout, "err": done.stderr}))
"""


async def test_an_unprivileged_gateway_with_setuid_setgid_kill_can_sandbox(data_dir: Path) -> None:
    """The Docker arrangement: the gateway is uid 10001 holding only CAP_SETUID, CAP_SETGID and
    CAP_KILL (ambient, as the image's setpriv entrypoint gives them); bubblewrap then runs
    unprivileged in a user namespace."""
    python, root = PLAIN_PYTHON, REPO_ROOT
    if not _usable_by_others(python, root):
        pytest.skip("needs /usr/bin/python3 and a checkout other users can traverse")
    caps = "-all,+setuid,+setgid,+kill"
    argv = ["/usr/bin/setpriv", "--reuid=10001", "--regid=10001", "--clear-groups"]
    argv += [f"--inh-caps={caps}", f"--ambient-caps={caps}", "--"]
    argv += [str(python), "-c", UNPRIVILEGED_GATEWAY, str(root), str(data_dir)]
    done = await anyio.run_process(argv, check=False)
    report = json.loads(done.stdout)
    assert report["status"] == {"enabled": True, "mode": "required"}, report
    uid, home, home_ok, *rest = report["out"].split("\n")
    assert (uid, home, home_ok) == ("150101", "/home/mcpgw", "home-ok")
    assert "canary" not in report["out"]
    assert "No such file" in report["err"]  # the data dir is an empty tmpfs in there


async def test_packages_kept_inside_the_data_dir_stay_usable_and_the_rest_stays_hidden(
    pool: UpstreamPool, box: Sandbox, data_dir: Path
) -> None:
    installed = data_dir / "packages" / "tiny_server.py"
    result = await run_command(  # an installer writes into the packages dir...
        [sys.executable, "-c", f"import shutil; shutil.copy({TINY_SERVER!r}, {str(installed)!r})"],
        time_limit=30,
        sandbox=box,
    )
    assert result.ok, result.output
    server = stdio_config(name="pkg", script=str(installed))
    secret = str(data_dir / "secrets.key")
    call = await pool.call_tool(server, "read_file", {"path": secret}, username="u")
    assert text_of(call).startswith("ERROR")  # ...the server there runs, the keys stay hidden
    assert text_of(await pool.call_tool(server, "echo", {"text": "ok"}, username="u")) == "ok"


async def test_a_uid_some_host_process_still_runs_as_is_never_leased(box: Sandbox) -> None:
    # A survivor of a crashed gateway (or another gateway sharing the range) holds uid_base.
    survivor = await anyio.open_process(
        ["/usr/bin/setpriv", f"--reuid={box.uid_base}", f"--regid={box.uid_base}"]
        + ["--clear-groups", "--", "sleep", "60"]
    )
    try:
        await poll_until(lambda: _uid_of(survivor.pid) == box.uid_base, within=10)
        uid = box.lease_uid()
        assert uid == box.uid_base + 1
        box.release_uid(uid)
    finally:
        survivor.kill()
        await survivor.wait()
        await survivor.aclose()
    assert box.lease_uid() == box.uid_base  # free again once that process is gone


def _uid_of(pid: int) -> int | None:
    try:
        return Path(f"/proc/{pid}").stat().st_uid
    except OSError:
        return None


@pytest.fixture
def private_checkout() -> Iterator[Path]:
    """A server checked out below a directory only root may enter (like /root/src/app), next
    to a file of root's that must stay out of reach."""
    top = Path(tempfile.mkdtemp(prefix="mcpgw-private-", dir="/var/tmp"))  # 0700
    (top / "root-only.txt").write_text("canary-root-only")
    (top / "root-only.txt").chmod(0o644)
    app = top / "app"
    app.mkdir(mode=0o755)
    shutil.copy(TINY_SERVER, app / "server.py")
    (app / "server.py").chmod(0o644)
    yield app / "server.py"
    shutil.rmtree(top, ignore_errors=True)


async def test_a_server_below_a_private_directory_starts_and_its_neighbours_stay_hidden(
    pool: UpstreamPool, private_checkout: Path
) -> None:
    server = stdio_config(name="private", script=str(private_checkout))
    echo = await pool.call_tool(server, "echo", {"text": "hi"}, username="u")
    assert text_of(echo) == "hi"
    neighbour = str(private_checkout.parents[1] / "root-only.txt")
    read = await pool.call_tool(server, "read_file", {"path": neighbour}, username="u")
    assert text_of(read).startswith("ERROR")


async def test_a_package_in_a_data_dir_below_a_private_directory_runs_and_the_keys_stay_hidden(
    sqlite_store: Store, private_checkout: Path
) -> None:
    # Like pytest's tmp dirs or /root/gw/data: private parent, data dir, packages inside it.
    data = private_checkout.parents[1] / "data"
    (data / "packages").mkdir(parents=True)
    data.chmod(0o755)
    (data / "packages").chmod(0o755)
    (data / "secrets.key").write_text("canary-key")
    (data / "secrets.key").chmod(0o644)
    script = data / "packages" / "server.py"
    shutil.copy(private_checkout, script)
    script.chmod(0o644)
    box = Sandbox.detect(
        "required",
        bwrap="/usr/bin/bwrap",
        setpriv="/usr/bin/setpriv",
        uid_base=150_200,
        uid_count=5,
        hidden=(data,),
        exposed=(Path(sys.prefix), Path(sys.base_prefix), data / "packages"),
        homes=data / "sandbox-homes",
    )
    settings = UpstreamSettings(busy_wait=0.1)
    async with UpstreamPool(sessions=sqlite_store, settings=settings, sandbox=box) as pool:
        server = stdio_config(name="pkg", script=str(script))
        assert text_of(await pool.call_tool(server, "echo", {"text": "ok"}, username="u")) == "ok"
        read = await pool.call_tool(
            server, "read_file", {"path": str(data / "secrets.key")}, username="u"
        )
        assert text_of(read).startswith("ERROR")


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mcpgw-cwd-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_a_configured_cwd_is_honoured_read_only(pool: UpstreamPool, workdir: Path) -> None:
    server = stdio_config(name="cwd", script=TINY_SERVER, cwd=str(workdir))
    me = json.loads(text_of(await pool.call_tool(server, "whoami", {}, username="u")))
    assert me["cwd"] == str(workdir)
    wrote = await pool.call_tool(server, "write_file", {"path": "x"}, username="u")
    assert text_of(wrote).startswith("ERROR")


async def test_a_missing_or_unexecutable_command_fails_to_spawn_as_unsandboxed(
    box: Sandbox, tmp_path: Path
) -> None:
    # Inside the sandbox the exec is bubblewrap's: spawn checks first and raises what exec
    # would, so lastError still says "not found" / "not executable".
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\n")
    for command, error in (
        (str(tmp_path / "missing"), FileNotFoundError),
        ("no-such-command-on-path", FileNotFoundError),
        (str(plain), PermissionError),
    ):
        for sandbox in (None, box):
            with pytest.raises(error):
                await spawn(
                    [command],
                    env={"PATH": "/usr/bin:/bin"},
                    sandbox=sandbox,
                    stdin=None,
                    stdout=None,
                    stderr=None,
                )
    assert box.leased == frozenset()
