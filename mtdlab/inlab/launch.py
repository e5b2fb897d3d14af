"""The one place the lab starts a container itself (compose starts the rest): the controller's
service instances and SAPP gateway, and the flooding experiment's xhop service.

Every such container joins a target's network namespace (so it answers on the target's one
IP, as on a real host, and publishes nothing), runs under docker-init (PID 1 that reaps and
forwards signals: vsftpd as PID 1 segfaulted after a few dozen quick connections here, and
ignored SIGTERM), carries the ownership labels a later start uses to remove leftovers, and is
confined by its role's row of mtdlab.contract.hardening (user, capabilities, limits, read-only
root). The controller's calls go through the Docker API fence, which refuses a create without
that confinement.
"""
from __future__ import annotations

from mtdlab.contract.hardening import run_options


def start_in_namespace(client, image: str, command: list[str], *, name: str, target, labels: dict[str, str],
                       role: str, environment: dict[str, str] | None = None, stop_signal: str = "SIGTERM",
                       volumes: list[str] | None = None):
    """Start a detached container of `role` inside target's network namespace; returns it.
    volumes: "VOLUME:PATH:rw" entries; the fence lets through the lab's http-sockets folder only."""
    return client.containers.run(
        image, command, name=name, detach=True, stop_signal=stop_signal,
        network_mode=f"container:{target.id}",
        init=True,
        environment=environment or {},
        labels=labels,
        **({"volumes": volumes} if volumes else {}),
        **run_options(role),
    )
