"""Controller entry point: find the lab, clear a crashed run's leftovers, hop every service.

Runs inside the lab's `controller` container with the Docker socket. Configuration is the
scenario file named by MTDLAB_SCENARIO; the truth log goes to MTDLAB_RUN_DIR/truth.jsonl.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import docker

from mtdlab.inlab import container, sshuser

from mtdlab.contract import keys, labels
from mtdlab.contract.catalog import SERVICE_KINDS
from mtdlab.contract.events import EventLog, read_events
from mtdlab.contract.sapp import service_codes
from mtdlab.contract.view import attacker_view
from mtdlab.contract.wait import Timeout, until

from .gateway import Gateway
from .hopper import Hopper, KeyedHopper, PortBook, RouteTable
from .instances import Instances, OverLabNetwork, remove
from .reconcile import decided_hops, reconcile
from .nginx_conf import FRONT_STATUS_PORT
from .proxy import Proxy, ProxyConfigError
from .switchboard import Switchboard

PROXY_CONF_DIR = Path("/etc/nginx/mtdlab")
VIEW_DIR = Path("/lab/view")   # the attacker-view volume (compose.yaml)
SHUTDOWN_S = 40.0   # hops in progress finish within this, then
STOP_S = 15.0       # every service's instance is stopped within this (60 s grace in all)


def log(message: str) -> None:
    print(f"controller: {message}", flush=True)


def compose_member(client, lab: str, service: str):
    found = client.containers.list(filters={"label": [f"{labels.COMPOSE_PROJECT}={lab}",
                                                      f"{labels.COMPOSE_SERVICE}={service}"]})
    if len(found) != 1:
        raise SystemExit(f"controller: expected one running '{service}' container in lab {lab}, found {len(found)}")
    return found[0]


def shared_network_ip(container, other) -> str:
    """container's IP on a network it shares with other (the lab network)."""
    mine = container.attrs["NetworkSettings"]["Networks"]
    theirs = other.attrs["NetworkSettings"]["Networks"]
    for name in sorted(set(mine) & set(theirs)):
        return mine[name]["IPAddress"]
    raise SystemExit(f"controller: {container.name} and {other.name} share no network")


def start_console(me, lab: str, hoppers: dict, truth: EventLog) -> None:
    """The console listens only on the management network, which the attacker is not on."""
    key_hex = os.environ.get(keys.CONSOLE.env, "")
    mgmt = [n for n in me.attrs["NetworkSettings"]["Networks"] if n.endswith("_mgmt")]
    if not key_hex or not mgmt:
        log("console off (needs MTDLAB_CONSOLE_KEY and the mgmt network)")
        return
    from .console import create_app, serve, CONSOLE_PORT
    from mtdlab.contract.console_auth import Verifier
    ip = me.attrs["NetworkSettings"]["Networks"][mgmt[0]]["IPAddress"]
    serve(create_app(hoppers, Verifier(keys.from_env(keys.CONSOLE)), truth), ip)
    truth.write("console.started", address=f"{ip}:{CONSOLE_PORT}")
    log(f"console on {ip}:{CONSOLE_PORT} (management network only)")


def start_gateway(client, me, target, target_ip: str, lab: str, run_id: str, scenario, key_hex: str,
                  truth: EventLog) -> Gateway:
    codes = service_codes(s.name for s in scenario.services)
    gateway = Gateway.start(client, me.image.id, target, lab, run_id, scenario.sapp.port, key_hex, codes)
    try:
        gateway.wait_listening(target_ip)
    except RuntimeError as exc:
        remove(gateway.container)
        raise SystemExit(f"controller: {exc}")
    truth.write("sapp.started", port=scenario.sapp.port, container=gateway.container.id, codes=codes)
    log(f"SAPP gateway on {target_ip}:{scenario.sapp.port}; services listen on the target's loopback")
    return gateway


def write_attacker_view(source: str) -> None:
    """The scenario without its seed, for the attacker (mtdlab.contract.view); written whole,
    then renamed, so the attacker never reads half a file."""
    if not VIEW_DIR.is_dir():
        return
    partial = VIEW_DIR / "scenario.yaml.partial"
    partial.write_text(attacker_view(source))
    os.replace(partial, VIEW_DIR / "scenario.yaml")


def redis_password_made_here(run_dir: Path) -> None:
    """A bare `docker compose up` passes no Redis password: make one on first start (kept, owner-only,
    in the run folder's redis.key for the user, and reused by a restarted controller, whose adopted
    instances still require it). `make demo` and `mtdlab run` pass their own."""
    if os.environ.get(keys.REDIS.env):
        return
    path = run_dir / keys.REDIS.file
    try:
        password = keys.from_file(keys.REDIS, path).hex()
    except keys.KeyError_:
        password = keys.new()
        keys.write(keys.REDIS, run_dir, password)
        print(f"controller: no Redis password given; made one in {keys.REDIS.file} of the run folder", file=sys.stderr)
    os.environ[keys.REDIS.env] = password


def main() -> int:
    keys.env_from_secrets()   # on Swarm the keys are secret files, not variables
    scenario, run_dir = container.start("controller")
    write_attacker_view(scenario.source)
    key = None
    if any(s.hop.interval.law == "keyed" for s in scenario.services):
        try:
            key = keys.from_env(keys.KEYED)
        except keys.KeyError_ as exc:
            print(f"controller: keyed hopping: {exc}", file=sys.stderr)
            return 2
    sapp_key = None
    if scenario.sapp:
        try:
            keys.from_env(keys.SAPP)
            sapp_key = os.environ[keys.SAPP.env]   # handed on, as hex, to the gateway it starts
        except keys.KeyError_ as exc:
            print(f"controller: a SAPP target: {exc}", file=sys.stderr)
            return 2
    redis_password_made_here(run_dir)
    client = docker.from_env()
    me = client.containers.get(socket.gethostname())
    lab = me.labels[labels.COMPOSE_PROJECT]
    target, proxy_container = compose_member(client, lab, "target"), compose_member(client, lab, "proxy")
    target_ip = shared_network_ip(target, me)
    proxy_ip = shared_network_ip(proxy_container, me)
    run_id = secrets.token_hex(4)
    truth = EventLog(run_dir / "truth.jsonl")
    instances = Instances(client, me.image.id, target, lab, run_id, bind="127.0.0.1" if scenario.sapp else None,
                          ssh_user_key=sshuser.make(), proxy_ip=proxy_ip)

    # A controller that died (SIGKILL, crash) leaves instances behind. Where it can, this one
    # adopts them (controller/reconcile.py), so users see no outage; a SAPP lab's are removed
    # (they would hold ports and answer scans the truth log no longer explains).
    leftovers = instances.leftovers()
    adopting = bool(leftovers) and not scenario.sapp
    earlier = list(read_events(run_dir / "truth.jsonl")) if adopting and (run_dir / "truth.jsonl").exists() else []
    if not adopting:
        for c in leftovers:
            remove(c)
    truth.write("controller.started", lab=lab, run=run_id, scenario=scenario.name, seed=scenario.seed,
                reconcile=adopting,
                target_ip=target_ip, proxy_ip=proxy_ip,
                services={s.name: {"kind": s.kind, "proxy_port": s.proxy_port, "interval": s.hop.interval.describe(),
                                   "law": s.hop.interval.as_dict(), "banner": s.banner.mode,
                                   "mean_interval_s": s.hop.interval.mean, "pool": s.hop.pool.describe(),
                                   "pool_size": len(s.hop.pool)} for s in scenario.services},
                removed_leftovers=[] if adopting else [{"container": c.id, "service": c.labels.get(labels.SERVICE),
                                                        "port": int(c.labels.get(labels.PORT, 0))} for c in leftovers])
    log(f"lab {lab}, run {run_id}, target {target_ip}; {len(leftovers)} leftover instance(s) "
        + ("to reconcile" if adopting else "removed"))

    proxy = Proxy(PROXY_CONF_DIR, proxy_ip, run_id,
                  shutdown_s=max([10.0] + [s.hop.drain_limit_s for s in scenario.services]))
    try:
        until(lambda: proxy.live_generation() is not None and proxy.live_generation(FRONT_STATUS_PORT) is not None
              and proxy.agent_answers(), "proxy status ports and agent", 30, interval=0.1)
        if not scenario.sapp:
            # Users' HTTP connections live in the front, loaded once (controller/nginx_conf.py).
            http = [(s.name, s.proxy_port) for s in scenario.services if SERVICE_KINDS[s.kind].proxy_mode == "http"]
            log("proxy front loaded" if proxy.set_front(http) else "proxy front already live (kept: users' connections stay)")
    except (Timeout, ProxyConfigError) as exc:
        raise SystemExit(f"controller: {exc}")
    front, readiness, gateway = proxy, None, None
    if scenario.sapp:
        # Seed 000's one port for all: the gateway, not nginx, is what each hop switches, and
        # readiness is checked inside the target's namespace, where the services listen.
        gateway = start_gateway(client, me, target, target_ip, lab, run_id, scenario, sapp_key, truth)
        front = readiness = gateway

    stop = threading.Event()
    failure: list[BaseException] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    routes, ports = RouteTable(), PortBook()
    adopted = reconcile(scenario, leftovers, proxy, OverLabNetwork(target_ip), routes, ports, truth, target_ip) \
        if adopting else {}
    switchboard = Switchboard(front, routes)
    hoppers = [(KeyedHopper if s.hop.interval.law == "keyed" else Hopper)(
                   s, scenario.seed, instances, front, routes, ports, truth, target_ip, stop, readiness=readiness,
                   switchboard=switchboard,
                   **({"key": key} if s.hop.interval.law == "keyed" else {}))
               for s in scenario.services]

    def guarded(h: Hopper):
        try:
            h.run()
        except BaseException as exc:  # one service failing stops the lab loudly, not silently
            failure.append(exc)
            truth.write("controller.error", service=h.service.name, error=f"{type(exc).__name__}: {exc}")
            stop.set()

    for h in hoppers:
        if h.service.name in adopted:
            h.resume(adopted[h.service.name], decided_hops(earlier, h.service.name))
    # The console first: a hop may begin at once (an adopted instance's interval has run), and
    # the console must already answer for it (pause, force) and be in the truth log before it.
    start_console(me, lab, {h.service.name: h for h in hoppers}, truth)
    threads = [threading.Thread(target=guarded, args=(h,), name=h.service.name) for h in hoppers]
    for t in threads:
        t.start()
    while not stop.wait(1.0):
        pass
    for h in hoppers:
        h.control.notify()  # wake every hop loop so it sees the stop
    log("stopping: finishing hops in progress, then removing instances")
    # Every service at once, all within the grace period compose gives (stop_grace_period: 60s).
    deadline = time.monotonic() + SHUTDOWN_S
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    stoppers = [threading.Thread(target=h.shutdown, name=f"stop-{h.service.name}") for h in hoppers]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join(timeout=max(1.0, deadline + STOP_S - time.monotonic()))
    if gateway:
        # Its per-connection log is raw data of the run (accepted and refused connections).
        (run_dir / "sapp-gateway.jsonl").write_text(gateway.logs("stdout"))
        if errors := gateway.logs("stderr"):
            (run_dir / "sapp-gateway.stderr").write_text(errors)
        remove(gateway.container)
        truth.write("sapp.stopped", port=gateway.port, container=gateway.container.id)
    truth.write("controller.stopped", run=run_id, error=str(failure[0]) if failure else None)
    truth.close()
    if failure:
        print(f"controller: {failure[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
