"""Seed 001's flooding claim, measured (scenario `flood:`), one step per n:

  1. the per-exchange hopping UDP service (services.xhop.server) starts in the target's
     network namespace on base .. base+n-1;
  2. the flooder (attacker.flood) starts in a one-off attacker container on the lab network,
     for the step's length plus a margin on each side;
  3. once the flooder's container runs, the legitimate client (mtdlab.inlab.xhop_client) runs in
     the controller's container for seconds_per_n;
  4. the service is stopped, which makes it print its counts and the kernel's drops.

Raw data per step in RUN/flood/: n-N-client.jsonl, n-N-flood.json, n-N-server.jsonl.

Owns the `flood` section, the steps (instead of a fixed duration), `flood` in summary.json
and its part of the report.
"""
from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from mtdlab.contract import keys, labels
from mtdlab.contract.limits import FLOOD_MARGIN_S as MARGIN_S
from mtdlab.contract.limits import LIMITS
from mtdlab.contract.reader import Reader
from mtdlab.contract.stats import percentile, rounded as _r
from mtdlab.contract.wait import Condition, LogLine, Timeout, wait_for
from mtdlab.contract.yamlsafe import plain

from .experiment import Experiment

STARTUP_S = 15.0   # per step, beside the step itself: the service, the flooder's container, the margins


@dataclass(frozen=True)
class Flood:
    """Seed 001's flooding claim: a UDP service hopping per exchange over n ports (mtdlab.contract.xhop),
    flooded on k of them with a bounded budget, once for each n."""
    ns: tuple[int, ...]
    flooded: Optional[int]      # k; None floods all n
    budget_pps: float
    capacity_pps: float
    seconds_per_n: float
    client_rate_per_s: float
    base_port: int

    def k(self, n: int) -> int:
        return n if self.flooded is None else min(self.flooded, n)


def parse(r: Optional[Reader], so_far: dict) -> Optional[Flood]:
    services = so_far["services"]
    if r is None:
        return None
    r.only("ns", "flooded", "budget_pps", "capacity_pps", "seconds_per_n", "client_rate_per_s", "base_port")
    node = r.node_of("ns")
    if not isinstance(node, yaml.SequenceNode) or not 1 <= len(node.value) <= 8:
        r.fail(node, r.path("ns"), "expected a list of 1 to 8 port counts")
    ns = []
    for item in node.value:
        v = plain(item) if isinstance(item, yaml.ScalarNode) else None
        if LIMITS["flood.ns"].check(v) or v in ns:
            r.fail(item, r.path("ns"), f"expected distinct whole numbers from 1 to {LIMITS['flood.ns'].high:g}, got {v!r}")
        ns.append(v)
    flooded = r.scalar("flooded", (str, int), "expected all or a whole number of ports", default="all")
    if flooded != "all" and (isinstance(flooded, str) or flooded < 1):
        r.fail(r.items["flooded"][1], r.path("flooded"), f"expected all or a whole number >= 1, got {flooded!r}")
    values = {key: r.bounded(key, f"flood.{key}", default=default)
              for key, default in (("budget_pps", 2000), ("capacity_pps", 100), ("seconds_per_n", 20),
                                   ("client_rate_per_s", 50))}
    base = r.bounded("base_port", "port", default=30000)
    last = base + max(ns) - 1
    if not 1024 <= base or last > 65535:
        r.fail(r.items.get("base_port", (None, r.node))[1], r.path("base_port"),
               f"expected ports {base}-{last} to lie within 1024-65535")
    for svc in services:
        if set(range(base, last + 1)) & set(svc.hop.pool.ports):
            r.fail(r.items.get("base_port", (None, r.node))[1], r.path("base_port"),
                   f"ports {base}-{last} overlap the hop pool of service {svc.name!r}")
    return Flood(tuple(ns), None if flooded == "all" else flooded, values["budget_pps"], values["capacity_pps"],
                 values["seconds_per_n"], values["client_rate_per_s"], base)


def duration(scenario) -> float | None:
    """The steps set a flood run's length: n values x (step + start-up and margins)."""
    plan = scenario.flood
    return len(plan.ns) * (plan.seconds_per_n + STARTUP_S) if plan else None


def _wait(ctx, strategy, timeout: float) -> None:
    try:
        wait_for(strategy, timeout)
    except Timeout as exc:
        ctx.fail(f"flood: {exc}")


def steps(ctx, scenario, out: Path, say=print) -> None:
    """One step per n (see the module's docstring); ctx: the host's LaunchContext."""
    import docker

    from mtdlab.inlab.launch import start_in_namespace
    lab = ctx.lab
    client = docker.from_env()
    plan = scenario.flood
    key = keys.new()       # the service's and its clients' key; the flooder never has it
    started = next(e for e in lab.events() if e["event"] == "controller.started")
    target_ip = started["target_ip"]
    target, controller = lab.container("target"), lab.container("controller")
    (out / "flood").mkdir(exist_ok=True)
    for step, n in enumerate(plan.ns):
        k = plan.k(n)
        say(f"flood: n={n}: {plan.budget_pps:g} datagrams/s over {k} of {n} ports for {plan.seconds_per_n:g} s")
        server = start_in_namespace(
            client, controller.image.id, ["python3", "-m", "services.xhop.server", str(plan.base_port), str(n),
                                          str(plan.capacity_pps)],
            name=f"{lab.name}-xhop-n{n}-{secrets.token_hex(3)}", target=target, role="xhop", environment={keys.XHOP.env: key},
            labels=labels.instance_labels(lab.name, "flood", "xhop", plan.base_port))
        try:
            _wait(ctx, LogLine(server, "xhop.listening", "the xhop service listening"), 30)
            flood_result: dict = {}

            def flood():
                r = lab.compose("run", "--rm", "--no-deps", "attacker", "python3", "-m", "attacker.flood", target_ip,
                                str(plan.base_port), str(n), str(k), f"{plan.budget_pps:g}",
                                f"{plan.seconds_per_n + 2 * MARGIN_S:g}", str(scenario.seed + step), check=False)
                flood_result.update(returncode=r.returncode, stdout=r.stdout, stderr=r.stderr[-2000:])

            flooder = threading.Thread(target=flood, name=f"flood-n{n}", daemon=True)
            flooder.start()
            _wait(ctx, Condition(lambda: _flooder_running(client, lab.name) or not flooder.is_alive(), "the flooder running"), 60)
            if not flooder.is_alive():
                ctx.fail(f"flood: the flooder ended before it began: {flood_result}")
            result = controller.exec_run(
                ["python3", "-m", "mtdlab.inlab.xhop_client", target_ip, str(plan.base_port), str(n),
                 f"{plan.client_rate_per_s:g}", f"{plan.seconds_per_n:g}", f"/lab/run/flood/n-{n}-client.jsonl"],
                environment={keys.XHOP.env: key})
            if result.exit_code != 0:
                ctx.fail(f"flood: the client failed: {result.output.decode(errors='replace')[-1000:]}")
            flooder.join(timeout=plan.seconds_per_n + 4 * MARGIN_S + 60)
            done = [json.loads(line) for line in flood_result.get("stdout", "").splitlines() if line.startswith("{")]
            if flood_result.get("returncode") != 0 or not done:
                ctx.fail(f"flood: the flooder failed: {flood_result}")
            (out / "flood" / f"n-{n}-flood.json").write_text(json.dumps(done[-1]) + "\n")
        finally:
            server.stop(timeout=10)
            (out / "flood" / f"n-{n}-server.jsonl").write_text(server.logs(stderr=False).decode(errors="replace"))
            server.remove(force=True)


def _flooder_running(client, lab: str) -> bool:
    return bool(client.containers.list(filters={"label": [f"{labels.COMPOSE_PROJECT}={lab}",
                                                          f"{labels.COMPOSE_SERVICE}=attacker"],
                                                "status": "running"}))


def figures(run) -> dict | None:
    """Seed 001's flooding claim: legitimate success per n, beside theory (gain n) and the
    seed's sqrt(n). Only exchanges sent while the flood ran, and answered or timed out before
    it ended, count."""
    plan = run.scenario.flood
    if plan is None:
        return None
    from mtdlab.analysis import theory
    from mtdlab.contract.clientlog import read_load
    from mtdlab.inlab.xhop_client import TIMEOUT_S
    rows = []
    for n in plan.ns:
        d = run.dir / "flood"
        fl = json.loads((d / f"n-{n}-flood.json").read_text()) if (d / f"n-{n}-flood.json").exists() else None
        client = read_load(d / f"n-{n}-client.jsonl") if (d / f"n-{n}-client.jsonl").exists() else []
        server = [json.loads(x) for x in (d / f"n-{n}-server.jsonl").read_text().splitlines() if x.startswith("{")] \
            if (d / f"n-{n}-server.jsonl").exists() else []
        stopped = next((e for e in server if e.get("event") == "xhop.stopped"), {})
        inside = [r for r in client if fl and fl["start_mono"] <= r["mono"] <= fl["end_mono"] - TIMEOUT_S]
        ok = sum(r["ok"] for r in inside)
        k = plan.k(n)
        rows.append({
            "n": n, "k": k, "exchanges": len(inside), "ok": ok,
            "success_rate": _r(ok / len(inside) if inside else None),
            "theory": _r(theory.flood_success(n, k, plan.budget_pps, plan.capacity_pps, plan.client_rate_per_s)),
            "seed_claim": _r(theory.flood_success(n, k, plan.budget_pps, plan.capacity_pps, plan.client_rate_per_s,
                                                  gain="sqrt")),
            "flood_pps": fl["achieved_pps"] if fl else None,
            "latency_ms_p50": _r(percentile([r["latency_ms"] for r in inside if r["ok"]], 50)
                                 if ok else None, 3),
            "server_read": stopped.get("read"), "kernel_drops": stopped.get("kernel_drops"),
        })
    return {"budget_pps": plan.budget_pps, "capacity_pps": plan.capacity_pps, "flooded": plan.flooded or "all",
            "client_rate_per_s": plan.client_rate_per_s, "seconds_per_n": plan.seconds_per_n, "by_n": rows}


def rows(summary: dict) -> list[tuple[str, str]]:
    rows = []
    if summary.get("flood"):
        rows += [("Flood budget (datagrams/s)", "flood.budget_pps"), ("Per-port capacity (datagrams/s)", "flood.capacity_pps"),
                 ("Ports flooded", "flood.flooded")]
        for i, row in enumerate(summary["flood"]["by_n"]):
            rows += [(f"n={row['n']}: legitimate success", f"flood.by_n.{i}.success_rate"),
                     (f"n={row['n']}: theory (gain n)", f"flood.by_n.{i}.theory"),
                     (f"n={row['n']}: seed 001's sqrt(n) claim", f"flood.by_n.{i}.seed_claim"),
                     (f"n={row['n']}: exchanges", f"flood.by_n.{i}.exchanges"),
                     (f"n={row['n']}: flood achieved (datagrams/s)", f"flood.by_n.{i}.flood_pps"),
                     (f"n={row['n']}: kernel drops at the service", f"flood.by_n.{i}.kernel_drops")]
    return rows


def plots(run, summary: dict, series: dict) -> list:
    if not summary.get("flood"):
        return []
    import matplotlib.pyplot as plt
    f = summary["flood"]
    rows = [r for r in f["by_n"] if r["success_rate"] is not None]
    fig, ax = plt.subplots(figsize=(8, 4))
    ns = [r["n"] for r in f["by_n"]]
    ax.plot(ns, [r["theory"] for r in f["by_n"]], "-", color="tab:blue", label="theory.md: flood on the live port B/n")
    ax.plot(ns, [r["seed_claim"] for r in f["by_n"]], "--", color="tab:gray", label="seed 001's claim: B/sqrt(n)")
    ax.plot([r["n"] for r in rows], [r["success_rate"] for r in rows], "o", color="tab:red", ms=7, label="measured")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("n: ports the service hops over, per exchange")
    ax.set_ylabel("legitimate success")
    ax.set_title(f"Flooding: {f['budget_pps']:g} datagrams/s over {f['flooded']} ports, {f['capacity_pps']:g}/s read per port")
    ax.legend(fontsize=8)
    return [("Legitimate success against n under a flood", fig)]


EXPERIMENT = Experiment(
    name="flood",
    sections={"flood": parse},
    steps=steps,
    duration=duration,
    metrics=lambda run, base: ({"flood": figures(run)}, {}),
    rows=rows,
    definitions=(
        ("Flooding (seed 001's claim)", "A UDP service hops per exchange over n ports (port of exchange i = "
         "HMAC-SHA256(key, i) over the n); a flooder without the key spends a fixed budget B of datagrams/s over k of "
         "the n ports; each port is read at capacity c, so a flooded port's small buffer overflows. Success: a "
         "legitimate exchange answered within 0.5 s, counted while the flood ran. Theory (theory.md section 5): the "
         "live port is flooded with probability k/n and then keeps a datagram with probability c/(B/k + legit/n), "
         "so the flood power on it is B/n (a gain of n). Seed 001 claims sqrt(n): shown as if the live port met B/sqrt(n)."),
    ),
    plots=plots,
)
