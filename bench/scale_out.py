"""Scale-out: two ``mcp-gateway serve`` replicas on one store behind a load balancer vs one
(issue 14, "Measure").

Both replicas run on one store (default: one SQLite file in one data dir, the embedded store's
several-processes mode; ``--mongodb-uri`` for a real MongoDB). Four servers ``echo-0`` ..
``echo-3`` are registered on replica A, each the stdio fixture server (tests/fixtures): every
replica runs its own four upstream processes (the gateway has no setting for several processes
behind one shared server, so four servers are how a replica gets four). Each call goes to one
of the four (worker ``k`` calls ``echo-{k % 4}``).

Topologies, measured in the same minutes (their order rotates between runs):

- ``1 direct``: replica A without a balancer;
- ``1 via LB``: the balancer in front of replica A alone;
- ``2 via LB``: the same balancer in front of A and B, round robin, no stickiness.

Workloads at concurrency ``--concurrency`` (64):

- ``rest``: ``POST /mcp/tool/call`` driven by the lean keep-alive client of
  bench/gateway_overhead.py (~0.15 ms of client CPU per call);
- ``mcp``: ``tools/call`` of ``echo-<i>__echo`` on ``/mcp`` with the SDK's ``Client`` in the
  2026-07-28 era (sessionless: any replica serves any request, whatever the balancer does).

The balancer is nginx with deploy/nginx.conf itself (compose.yaml's balancer: round robin, no
stickiness, keep-alive to the replicas, no buffering; only the addresses, the listen port and
the temp paths changed; one nginx per topology) when nginx is installed (Debian's ``nginx``),
else a tiny Python round-robin TCP proxy (one backend per client connection, its own
process); the output says which. Reports, per workload and topology, calls/s, p50/p99 latency
of the calls under that load, failed calls (non-200; the balancers' error logs are printed at
the end), and the CPU time per call of each group of processes read from /proc (the
replicas, their upstream processes, the balancer, this process = the load generator), their
context switches per call, the cores the whole setup got (calls/s x CPU per call) and the
load average; then the processes' RSS. ``--runs`` repeats everything; the table shows medians.
Ends with the capacity per replica that docs/scaling.md sizes with: calls/s per core of a
replica's process = 1000 / its CPU ms per call.

``--upstream http``: four Streamable HTTP fixture processes shared by the replicas instead
(the path where ``UpstreamCredentials.own_session`` reads the store on each call).
``--mongodb-uri``: a real MongoDB instead of the SQLite file (none could be had here).

Run: .venv/bin/python bench/scale_out.py --runs 3 [--rest-calls 2000] [--mcp-calls 400] (~6 min on a
loaded 2-core box; the figures in docs/benchmarks.md used 3000 and 1000)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from gateway_overhead import (  # bench/ sibling (run as a script)
    ADMIN,
    FIXTURE,
    ROOT,
    Gateway,
    LeanClient,
    cpu_seconds,
)
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_endpoint import Upstream, rss_kib

SERVERS = tuple(f"echo-{i}" for i in range(4))
ARGS = {"text": "hello"}
AUTH = {"Authorization": f"Bearer {ADMIN}"}
Call = Callable[[], Awaitable[Any]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren: a sandbox wrapper's child)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError):
            pass  # exited: counted up to the last snapshot only
    return total


def switches_of(pids: list[int]) -> int:
    """Context switches so far (voluntary + not) of ``pids``: a process that finds more work
    per wake-up switches less per call."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except OSError:
            pass
    return total


# -- balancers --------------------------------------------------------------------------------

DEPLOY_CONF = ROOT / "deploy" / "nginx.conf"


def nginx_conf(prefix: Path, backends: list[int], port: int, extra: str = "") -> Path:
    """deploy/nginx.conf (compose.yaml's balancer) with only what cannot work here changed:
    the replicas' addresses (``backends``, the extra ``server`` lines dropped), the listen port,
    the pid and temp files (inside ``prefix``); everything else as deployed."""
    text = DEPLOY_CONF.read_text()
    found = re.findall(r"\n\s*server gateway-\d+:8080[^;]*;", text)
    for i, line in enumerate(found):
        if i < len(backends):
            text = text.replace(line, re.sub(r"gateway-\d+:8080", f"127.0.0.1:{backends[i]}", line))
        else:
            text = text.replace(line, "")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    if extra:  # --nginx-upstream: a directive to try in the upstream block
        text = re.sub(r"(\n\s*keepalive \d+;)", lambda m: f"{m.group(1)}\n        {extra}", text)
    temp = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


class Balancer:
    """Listens on one port per topology (``{name: [backend ports]}``), round robin: nginx
    with deploy/nginx.conf (one nginx per topology), else the Python TCP proxy below."""

    def __init__(self, kind: str, tmp: Path, routes: dict[str, list[int]], extra: str = "") -> None:
        self.kind = kind
        self.ports = {name: free_port() for name in routes}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        for name, backends in routes.items():
            if kind == "nginx":
                prefix = tmp / f"nginx-{name}"
                prefix.mkdir()
                conf = nginx_conf(prefix, backends, self.ports[name], extra)
                nginx = shutil.which("nginx") or "/usr/sbin/nginx"
                cmd = [nginx, "-p", str(prefix), "-c", str(conf), "-e", "stderr"]
                cmd += ["-g", f"daemon off; pid {prefix / 'nginx.pid'};"]
            else:
                spec = ",".join(str(p) for p in backends)
                cmd = [sys.executable, __file__, "--tcp-proxy", f"{self.ports[name]}={spec}"]
            log = tmp / f"balancer-{name}.log"
            self.logs.append(log)
            with log.open("wb") as err:  # nginx: its error log; the access log is discarded
                self.procs.append(
                    subprocess.Popen(
                        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
                    )
                )
        deadline = time.monotonic() + 30
        for port in self.ports.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                        self.stop()
                        raise RuntimeError(f"{kind} balancer did not start") from None
                    time.sleep(0.05)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def pids(self) -> list[int]:
        return [pid for p in self.procs for pid in (p.pid, *descendants(p.pid))]

    def stop(self) -> None:
        for log in self.logs:
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            if lines:
                print(f"{log.name} ({len(lines)} lines), last:", *lines[-3:], sep="\n  ")
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            proc.wait(30)


async def tcp_proxy(spec: str) -> None:
    """``PORT=B1,B2``: accept on PORT, hand each connection to the next backend in turn."""
    port, backends = spec.split("=")
    turn = itertools.cycle(int(b) for b in backends.split(","))

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", next(turn))
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", int(port), backlog=1024)
    async with server:
        await server.serve_forever()


# -- the gateway side -------------------------------------------------------------------------


def store_env(args: argparse.Namespace) -> dict[str, str]:
    if not args.mongodb_uri:
        return {}
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "MCPGW_MONGODB_URI": args.mongodb_uri,
        "MCPGW_MONGODB_DB": f"bench_scale_{secrets.token_hex(4)}",
        "MCPGW_SECRETS_KEYS": f"k1:{key}",
    }


async def register(url: str, http_upstreams: list[str]) -> None:
    """Four stdio servers (each replica runs its own processes), or four Streamable HTTP
    servers at ``http_upstreams`` (shared by the replicas)."""
    async with httpx2.AsyncClient(base_url=url, headers=AUTH, timeout=30.0) as http:
        for i, name in enumerate(SERVERS):
            server: dict[str, Any] = {
                "name": name,
                "maxConcurrency": 128,
                "maxConcurrencyPerUser": 128,  # one username drives every call
            }
            if http_upstreams:
                server |= {"transportType": "streamable_http", "url": http_upstreams[i]}
            else:
                server |= {"command": sys.executable, "args": [FIXTURE]}
            (await http.post("/mcp/servers", json=server)).raise_for_status()
            # A stored secret, so the per-call injection read finds a row (as in production).
            secret = {"serverName": name, "secretName": "unused", "secretValue": "s3cret-value"}
            (await http.post("/secrets/set", json=secret)).raise_for_status()


async def wait_connected(url: str) -> None:
    async with httpx2.AsyncClient(base_url=url, headers=AUTH, timeout=30.0) as http:
        with anyio.fail_after(120):
            for name in SERVERS:
                while True:
                    resp = await http.get(f"/mcp/servers/{name}")
                    if resp.status_code == 200 and resp.json()["server"]["status"] == "connected":
                        break
                    await anyio.sleep(0.1)


# -- load -------------------------------------------------------------------------------------


class Failed(Exception):
    """A call answered other than 200 / a result without isError: counted, not fatal."""


class RestClient(LeanClient):
    """The lean client, raising Failed (with the status line) on a non-200 answer."""

    async def call(self) -> None:
        if self.free:
            reader, writer = self.free.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(self.request)
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        at = head.index(b"content-length:") + 15
        await reader.readexactly(int(head[at : head.index(b"\r\n", at)]))
        if b"connection: close" in head:  # Hypercorn recycles a connection every 1000 requests
            writer.close()
        else:
            self.free.append((reader, writer))
        if head[9:12] != b"200":
            raise Failed(head.split(b"\r\n", 1)[0].decode())


async def load(
    calls: list[Call], total: int, concurrency: int, failures: list[str] | None = None
) -> tuple[float, list[float]]:
    """``total`` calls by ``concurrency`` workers (worker k uses ``calls[k % len]``): calls/s
    and each successful call's latency in seconds; a Failed call is added to ``failures``."""
    remaining = total
    latencies: list[float] = []

    async def worker(call: Call) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            try:
                await call()
            except Failed as exc:
                if failures is None:
                    raise
                failures.append(str(exc))
                continue
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for k in range(concurrency):
            tg.start_soon(worker, calls[k % len(calls)])
    return len(latencies) / (time.perf_counter() - start), latencies


@asynccontextmanager
async def rest_calls(url: str) -> AsyncIterator[list[Call]]:
    clients = [
        RestClient(
            url, "/mcp/tool/call", {"serverName": s, "methodName": "echo", "args": ARGS}, AUTH
        )
        for s in SERVERS
    ]
    try:
        yield [c.call for c in clients]
    finally:
        for c in clients:
            c.close()


@asynccontextmanager
async def mcp_calls(url: str, concurrency: int) -> AsyncIterator[list[Call]]:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(headers=AUTH, limits=limits, timeout=120.0) as http:
        # ?tools=all: four fixture servers list more than the search threshold (64 tools)
        transport = streamable_http_client(url + "/mcp?tools=all", http_client=http)
        async with Client(transport, mode="2026-07-28", cache=None) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            tools = [f"{s}__echo" for s in SERVERS]
            missing = [t for t in tools if t not in names]
            assert not missing, f"not listed on /mcp: {missing} (listed: {sorted(names)[:8]})"

            def caller(tool: str) -> Call:
                async def call() -> None:
                    try:
                        result = await client.call_tool(tool, ARGS)
                    except Exception as exc:  # e.g. the balancer's 502 as an SDK error
                        raise Failed(f"{type(exc).__name__}: {exc}"[:200]) from None
                    if result.is_error:
                        raise Failed(str(result.content)[:200])

                return call

            yield [caller(t) for t in tools]


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def measure(
    workload: str, url: str, total: int, concurrency: int, groups: dict[str, list[int]]
) -> dict[str, float]:
    opened = rest_calls(url) if workload == "rest" else mcp_calls(url, concurrency)
    async with opened as calls:
        await load(calls, max(200, concurrency * 4), concurrency, [])  # warm-up: connections, JIT
        load_before = os.getloadavg()[0]
        before = {g: cpu_of(p) for g, p in groups.items()}
        servers = groups["gw_a"] + groups["gw_b"] + groups["upstreams"]
        switches = switches_of(servers)
        client_before = time.process_time()
        failures: list[str] = []
        rps, latencies = await load(calls, total, concurrency, failures)
        client = (time.process_time() - client_before) * 1000 / total
        cpu = {g: (cpu_of(p) - before[g]) * 1000 / total for g, p in groups.items()}
        switches = switches_of(servers) - switches
    result = {
        "rps": rps,
        "p50_ms": quantile(latencies, 0.5),
        "p99_ms": quantile(latencies, 0.99),
        "load1": (load_before + os.getloadavg()[0]) / 2,
        "cpu_client": client,
        "failed": len(failures),
    }
    if failures:
        print(f"  {len(failures)} calls failed, e.g. {sorted(set(failures))[:3]}", flush=True)
    result |= {f"cpu_{g}": v for g, v in cpu.items()}
    result["cpu_total"] = sum(v for k, v in result.items() if k.startswith("cpu_"))
    result["switches"] = switches / total
    result["cores"] = rps * result["cpu_total"] / 1000  # of this setup, out of the machine's
    return result


# -- report -----------------------------------------------------------------------------------

COLUMNS = ("gw_a", "gw_b", "upstreams", "balancer", "client")


def report(
    results: dict[tuple[str, str], list[dict[str, float]]], args: argparse.Namespace
) -> None:
    print(
        f"\nmedians of {args.runs} runs; concurrency {args.concurrency}; "
        f"{len(SERVERS)} upstream processes per replica; CPU in ms per call; ctxsw: context "
        "switches per call of the replicas and upstreams; cores: calls/s x total CPU per "
        f"call (what this setup got of the machine's {os.cpu_count()})"
    )
    head = f"{'workload':9}{'topology':11}{'calls/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'load1':>7}"
    print(head + "".join(f"{c:>10}" for c in COLUMNS) + f"{'total':>8}{'ctxsw':>7}{'cores':>7}")
    med: dict[tuple[str, str], dict[str, float]] = {}
    for key, runs in results.items():
        m = med[key] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        line = f"{key[0]:9}{key[1]:11}{m['rps']:9.0f}{m['p50_ms']:9.2f}{m['p99_ms']:9.2f}"
        line += f"{m['load1']:7.1f}" + "".join(f"{m.get('cpu_' + c, 0.0):10.3f}" for c in COLUMNS)
        print(line + f"{m['cpu_total']:8.3f}{m['switches']:7.1f}{m['cores']:7.2f}")
    print("\nper workload (from the medians):")
    for workload in dict.fromkeys(w for w, _ in med):
        one, two = med.get((workload, "1 via LB")), med.get((workload, "2 via LB"))
        if not one or not two:
            continue
        gw_one = one["cpu_gw_a"]
        gw_two = (two["cpu_gw_a"] + two["cpu_gw_b"]) / 2  # per call, averaged over replicas
        share_a = two["cpu_gw_a"] / (two["cpu_gw_a"] + two["cpu_gw_b"])
        print(
            f"- {workload}: 2 replicas = {two['rps'] / one['rps']:.2f}x of 1 "
            f"({two['rps']:.0f} vs {one['rps']:.0f} calls/s); replica CPU per call "
            f"{gw_one:.3f} ms (1 replica), {2 * gw_two:.3f} ms summed over 2 replicas "
            f"(A's share {share_a:.0%}); every process together {one['cpu_total']:.2f} / "
            f"{two['cpu_total']:.2f} ms per call -> this 2-core box tops out near "
            f"{2000 / one['cpu_total']:.0f} / {2000 / two['cpu_total']:.0f} calls/s; "
            f"capacity of a replica = {1000 / gw_one:.0f} calls/s per core of its process "
            f"(plus {one['cpu_upstreams']:.2f} ms of upstream CPU per call)"
        )


async def main(args: argparse.Namespace) -> None:
    kind = args.balancer
    workloads = [w for w in ("rest", "mcp") if w in args.workloads.split(",")]
    store = "MongoDB " + args.mongodb_uri.split("@")[-1] if args.mongodb_uri else "SQLite file"
    print(
        f"balancer: {kind}; store: {store}; upstreams: {args.upstream}; "
        f"load average at start: {os.getloadavg()}"
    )
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = store_env(args)
        a = Gateway(tmp / "data", env | {"MCPGW_REPLICA_ID": "a"})
        replicas = [a]
        upstreams: list[Upstream] = []
        balancer = None
        try:
            if args.upstream == "http":
                upstreams = [Upstream() for _ in SERVERS]
            await register(a.url, [u.url for u in upstreams])
            b = Gateway(tmp / "data", env | {"MCPGW_REPLICA_ID": "b"})
            replicas.append(b)
            await wait_connected(a.url)
            await wait_connected(b.url)
            port_a, port_b = (int(r.url.rsplit(":", 1)[1]) for r in (a, b))
            routes = {"one": [port_a], "two": [port_a, port_b]}
            balancer = Balancer(kind, tmp, routes, args.nginx_upstream)
            groups = {
                "gw_a": [a.proc.pid],
                "gw_b": [b.proc.pid],
                "upstreams": descendants(a.proc.pid)
                + descendants(b.proc.pid)
                + [u.proc.pid for u in upstreams],
                "balancer": balancer.pids(),
            }
            topologies = [("1 direct", a.url), ("1 via LB", balancer.url("one"))]
            topologies.append(("2 via LB", balancer.url("two")))
            for run in range(args.runs):
                for workload in workloads:
                    total = args.rest_calls if workload == "rest" else args.mcp_calls
                    shift = run % len(topologies)
                    for topology, url in topologies[shift:] + topologies[:shift]:
                        r = await measure(workload, url, total, args.concurrency, groups)
                        results.setdefault((workload, topology), []).append(r)
                        print(
                            f"run {run + 1} {workload} {topology}: {r['rps']:.0f} calls/s, "
                            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, load "
                            f"{r['load1']:.1f}, replica CPU ms/call a {r['cpu_gw_a']:.3f} "
                            f"b {r['cpu_gw_b']:.3f}, all {r['cpu_total']:.3f}"
                            + (f", {r['failed']:.0f} failed" if r["failed"] else ""),
                            flush=True,
                        )
            # A stdio server is a process tree (the sandbox's bwrap pair, then the server).
            servers = len(SERVERS) * (1 if upstreams else 2)
            upstream_mib = sum(rss_kib(p) for p in groups["upstreams"]) / 1024
            print(
                f"RSS after the runs: replica a {rss_kib(a.proc.pid) / 1024:.0f} MiB, "
                f"b {rss_kib(b.proc.pid) / 1024:.0f} MiB; {servers} MCP servers in "
                f"{len(groups['upstreams'])} processes: {upstream_mib / servers:.0f} MiB each"
            )
        finally:
            if balancer is not None:
                balancer.stop()
            for replica in replicas:
                replica.stop()
                if replica.errors:
                    print(f"replica log, warnings and errors (last {len(replica.errors)}):")
                    print(*replica.errors, sep="\n")
            for upstream in upstreams:
                upstream.stop()
    print(f"load average at end: {os.getloadavg()}")
    # Keep the topology order stable in the table.
    order = [(w, t) for w in workloads for t, _ in topologies]
    report({k: results[k] for k in order if k in results}, args)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rest-calls", type=int, default=2000, help="calls per REST sample")
    parser.add_argument("--mcp-calls", type=int, default=400, help="calls per /mcp sample")
    parser.add_argument("--workloads", default="rest,mcp", help="comma list of rest, mcp")
    parser.add_argument("--balancer", default="auto", choices=["auto", "nginx", "python"])
    parser.add_argument(
        "--upstream",
        default="stdio",
        choices=["stdio", "http"],
        help="stdio: 4 processes per replica; http: 4 Streamable HTTP processes shared",
    )
    parser.add_argument(
        "--nginx-upstream", default="", help="a directive added to the upstream block to try"
    )
    parser.add_argument("--mongodb-uri", default="", help="a real MongoDB (default: SQLite)")
    parser.add_argument("--tcp-proxy", default="", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    parsed = parse()
    if parsed.tcp_proxy:
        asyncio.run(tcp_proxy(parsed.tcp_proxy))
    else:
        if parsed.balancer == "auto":
            nginx = shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
            parsed.balancer = "nginx" if nginx else "python"
        anyio.run(main, parsed)
