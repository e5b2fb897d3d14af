"""A user who holds one connection through the proxy while the service hops (issue 13, item 2).

    python3 -m mtdlab.inlab.held redis PROXY_IP PORT TARGET_IP SECONDS
    python3 -m mtdlab.inlab.held ssh PROXY_IP PORT TARGET_IP SECONDS
    python3 -m mtdlab.inlab.held http PROXY_IP PORT TARGET_IP SECONDS

redis: one connection, AUTH with the run's password (from the environment), then PING every
200 ms for SECONDS. It asks, on that connection, which port its instance listens on (CONFIG GET
port) at the start and at the end, and tries a new connection straight to that first port on the
target every round, to see when it refuses new connections (the door closed) while the held
connection goes on being answered.
ssh: one session as the lab's login (the controller's key), running a command every second for
SECONDS; each command must run on the instance that greeted the session (its host key).
http: one keep-alive connection, GET every 100 ms; it must stay one connection.

Prints one JSON line. Bounded: SECONDS within the run limit; talks only to the lab's addresses.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import time

from mtdlab.contract import keys
from mtdlab.contract.limits import LIMITS
from mtdlab.contract.scope import in_scope_or_exit
from mtdlab.inlab import sshuser

PING_EVERY_S = 0.2
COMMAND_EVERY_S = 1.0
GET_EVERY_S = 0.1
TIMEOUT_S = 2.0


def redis_call(sock: socket.socket, *args: str) -> bytes:
    """One command, RESP-encoded; returns the reply's bytes (enough of them for the replies used here)."""
    sock.sendall(b"".join([f"*{len(args)}\r\n".encode()] + [f"${len(a)}\r\n{a}\r\n".encode() for a in args]))
    data = b""
    while not data.endswith(b"\r\n") or (data.startswith(b"*") and data.count(b"\r\n") < 5):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the connection was closed")
        data += chunk
    return data


def listening_port(sock: socket.socket) -> int:
    return int(redis_call(sock, "CONFIG", "GET", "port").split(b"\r\n")[4])


def refuses(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=TIMEOUT_S).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def hold_redis(proxy: str, port: int, target: str, seconds: float) -> dict:
    out = {"kind": "redis", "pings": 0, "failures": 0, "errors": [], "refused_after_s": None, "pongs_after_refused": 0}
    sock = socket.create_connection((proxy, port), timeout=TIMEOUT_S)
    if os.environ.get(keys.REDIS.env):
        if not redis_call(sock, "AUTH", os.environ[keys.REDIS.env]).startswith(b"+OK"):
            raise SystemExit("held: Redis refused the run's password")
    out["first_port"] = first = listening_port(sock)
    start = time.monotonic()
    while (now := time.monotonic()) - start < seconds:
        out["pings"] += 1
        try:
            ok = redis_call(sock, "PING").startswith(b"+PONG")
        except OSError as exc:
            ok = False
            out["errors"].append(f"{now - start:.1f} s: {type(exc).__name__}: {exc}")
            break                      # the held connection is gone: nothing more to learn from it
        out["failures"] += not ok
        if out["refused_after_s"] is None and refuses(target, first):
            out["refused_after_s"] = round(time.monotonic() - start, 3)
        elif out["refused_after_s"] is not None and ok:
            out["pongs_after_refused"] += 1
        time.sleep(max(0.0, start + out["pings"] * PING_EVERY_S - time.monotonic()))
    try:
        out["last_port"] = listening_port(sock)   # 0 once the door closed: still the first instance
    except OSError as exc:
        out["last_port"] = None
        out["errors"].append(f"end: {type(exc).__name__}: {exc}")
    sock.close()
    out["held_s"] = round(time.monotonic() - start, 3)
    return out


def hold_ssh(proxy: str, port: int, seconds: float) -> dict:
    """One SSH session (the lab's login, mtdlab.inlab.sshuser) running a command every second.
    Each command prints the public host key of the instance it ran on: it must stay the key of
    the instance that greeted the session (instances make their own), through every hop."""
    import asyncio

    import asyncssh

    async def hold() -> dict:
        out = {"kind": "ssh", "commands": 0, "failures": 0, "errors": [], "other_instance": 0}
        conn = await asyncio.wait_for(asyncssh.connect(
            proxy, port, username=sshuser.USER, client_keys=[sshuser.load()], known_hosts=None,
            agent_path=None, config=None), TIMEOUT_S * 5)
        greeted_by = conn.get_server_host_key().export_public_key().split()[1]
        start = time.monotonic()
        async with conn:
            while (now := time.monotonic()) - start < seconds:
                out["commands"] += 1
                try:
                    r = await asyncio.wait_for(conn.run("cat /run/ssh_host_ed25519_key.pub"), TIMEOUT_S)
                    ran_on = (r.stdout or "").split()[1:2]
                    out["failures"] += r.exit_status != 0
                    out["other_instance"] += ran_on != [greeted_by.decode()]
                except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
                    out["failures"] += 1
                    out["errors"].append(f"{now - start:.1f} s: {type(exc).__name__}: {exc}")
                    break              # the session is gone: nothing more to learn from it
                await asyncio.sleep(max(0.0, start + out["commands"] * COMMAND_EVERY_S - time.monotonic()))
        out["held_s"] = round(time.monotonic() - start, 3)
        # A new session now reaches another instance: the service did hop meanwhile.
        async with await asyncssh.connect(proxy, port, username=sshuser.USER, client_keys=[sshuser.load()],
                                          known_hosts=None, agent_path=None, config=None) as fresh:
            out["new_session_elsewhere"] = fresh.get_server_host_key().export_public_key().split()[1] != greeted_by
        return out

    return asyncio.run(hold())


def hold_http(proxy: str, port: int, seconds: float) -> dict:
    """One HTTP/1.1 keep-alive connection, GET / every 100 ms for SECONDS, as a browser keeps one.
    Should the proxy close it (the front is not reloaded at hops, so it should not), the client
    reconnects, and retries a GET that the closing connection never answered (RFC 9112 9.3.1:
    idempotent requests may be retried), as browsers do; both are counted (connections,
    retried) apart from failures: a request without a 200 after that one retry."""
    out = {"kind": "http", "requests": 0, "failures": 0, "errors": [], "connections": 1, "retried": 0,
           "instances": 0}
    conn, seen, start = http.client.HTTPConnection(proxy, port, timeout=TIMEOUT_S), set(), time.monotonic()
    while (now := time.monotonic()) - start < seconds:
        out["requests"] += 1
        for attempt in (1, 2):
            try:
                if conn.sock is None and out["requests"] > 1:
                    out["connections"] += 1       # closed by the server while idle: a new one
                conn.request("GET", "/")
                answer = conn.getresponse()
                answer.read()
                if answer.getheader("Connection", "").lower() == "close":
                    conn.close()
                ok = answer.status == 200
                seen.add(answer.getheader("X-Mtdlab-Instance"))
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()                      # closed under the request, unanswered
                if attempt == 2:
                    ok = False
                    out["errors"].append(f"{now - start:.1f} s: {type(exc).__name__}: {exc}")
                else:
                    out["retried"] += 1
            except OSError as exc:
                conn.close()
                ok = False
                out["errors"].append(f"{now - start:.1f} s: {type(exc).__name__}: {exc}")
                break
        out["failures"] += not ok
        time.sleep(max(0.0, start + out["requests"] * GET_EVERY_S - time.monotonic()))
    conn.close()
    out["instances"], out["held_s"] = len(seen - {None}), round(time.monotonic() - start, 3)
    return out


def main() -> int:
    kind, proxy, port, target, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
    LIMITS["duration_s"].require(seconds, "held")
    for host in (proxy, target):
        in_scope_or_exit(host, "held")
    if kind not in ("redis", "ssh", "http"):
        raise SystemExit(f"held: unknown kind {kind!r} (redis, ssh or http)")
    result = (hold_redis(proxy, port, target, seconds) if kind == "redis" else
              hold_ssh(proxy, port, seconds) if kind == "ssh" else hold_http(proxy, port, seconds))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
