"""The flooding experiment inside a scenario run (scenario `flood:`), one step per n:

  1. the per-exchange hopping UDP service (services.xhop.server) starts in the target's
     network namespace on base .. base+n-1;
  2. the flooder (attacker.flood) starts in a one-off attacker container on the lab network,
     for the step's length plus a margin on each side;
  3. once the flooder's container runs, the legitimate client (mtdlab.inlab.xhop_client) runs in
     the controller's container for seconds_per_n;
  4. the service is stopped, which makes it print its counts and the kernel's drops.

Raw data per step in RUN/flood/: n-N-client.jsonl, n-N-flood.json, n-N-server.jsonl.
"""
from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

from mtdlab.contract import keys, labels
from mtdlab.host.lab import Lab, LabError
from mtdlab.inlab.launch import start_in_namespace
from mtdlab.contract.limits import FLOOD_MARGIN_S as MARGIN_S
from mtdlab.contract.wait import Condition, LogLine, Timeout, wait_for



def _wait(strategy, timeout: float) -> None:
    try:
        wait_for(strategy, timeout)
    except Timeout as exc:
        raise LabError(f"flood: {exc}") from None


def run_flood(lab: Lab, scenario, out: Path, say=print) -> None:
    import docker
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
            name=f"{lab.name}-xhop-n{n}-{secrets.token_hex(3)}", target=target, environment={keys.XHOP.env: key},
            labels=labels.instance_labels(lab.name, "flood", "xhop", plan.base_port))
        try:
            _wait(LogLine(server, "xhop.listening", "the xhop service listening"), 30)
            flood_result: dict = {}

            def flood():
                r = lab.compose("run", "--rm", "--no-deps", "attacker", "python3", "-m", "attacker.flood", target_ip,
                                str(plan.base_port), str(n), str(k), f"{plan.budget_pps:g}",
                                f"{plan.seconds_per_n + 2 * MARGIN_S:g}", str(scenario.seed + step), check=False)
                flood_result.update(returncode=r.returncode, stdout=r.stdout, stderr=r.stderr[-2000:])

            flooder = threading.Thread(target=flood, name=f"flood-n{n}", daemon=True)
            flooder.start()
            _wait(Condition(lambda: _flooder_running(client, lab.name) or not flooder.is_alive(), "the flooder running"), 60)
            if not flooder.is_alive():
                raise LabError(f"flood: the flooder ended before it began: {flood_result}")
            result = controller.exec_run(
                ["python3", "-m", "mtdlab.inlab.xhop_client", target_ip, str(plan.base_port), str(n),
                 f"{plan.client_rate_per_s:g}", f"{plan.seconds_per_n:g}", f"/lab/run/flood/n-{n}-client.jsonl"],
                environment={keys.XHOP.env: key})
            if result.exit_code != 0:
                raise LabError(f"flood: the client failed: {result.output.decode(errors='replace')[-1000:]}")
            flooder.join(timeout=plan.seconds_per_n + 4 * MARGIN_S + 60)
            done = [json.loads(line) for line in flood_result.get("stdout", "").splitlines() if line.startswith("{")]
            if flood_result.get("returncode") != 0 or not done:
                raise LabError(f"flood: the flooder failed: {flood_result}")
            (out / "flood" / f"n-{n}-flood.json").write_text(json.dumps(done[-1]) + "\n")
        finally:
            server.stop(timeout=10)
            (out / "flood" / f"n-{n}-server.jsonl").write_text(server.logs(stderr=False).decode(errors="replace"))
            server.remove(force=True)


def _flooder_running(client, lab: str) -> bool:
    return bool(client.containers.list(filters={"label": [f"{labels.COMPOSE_PROJECT}={lab}",
                                                          f"{labels.COMPOSE_SERVICE}=attacker"],
                                                "status": "running"}))
