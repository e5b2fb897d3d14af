"""Ownership labels on every lab resource, so a later start can find and remove leftovers.

Compose-made containers, networks and volumes carry OWNER and ROLE from compose.yaml (and
compose's own project label, which is the lab's name). Service instances, made by the
controller, carry all of these plus the service, its port and the controller run.
"""
OWNER = "mtdlab.owner"
OWNER_VALUE = "mtdlab"
LAB = "mtdlab.lab"
ROLE = "mtdlab.role"
SERVICE = "mtdlab.service"
PORT = "mtdlab.port"
RUN = "mtdlab.run"
OWNER_PROCESS = "mtdlab.owner_process"      # host:pid:start of the process that started the lab
OWNER_PROCESS_ENV = "MTDLAB_OWNER_PROCESS"  # how compose.yaml gets it
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"


def instance_labels(lab: str, run: str, service: str, port: int) -> dict[str, str]:
    return {OWNER: OWNER_VALUE, LAB: lab, ROLE: "service", SERVICE: service,
            PORT: str(port), RUN: run}


def gateway_labels(lab: str, run: str, port: int) -> dict[str, str]:
    """The SAPP gateway shares the target's namespace like an instance; cleaned up the same way."""
    return {OWNER: OWNER_VALUE, LAB: lab, ROLE: "gateway", PORT: str(port), RUN: run}
