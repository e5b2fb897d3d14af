# The lab image: Debian bookworm with images/packages.txt, plus mtdlab's code. Every lab
# container (target, proxy, fence, controller, attacker, dashboard, service instances) runs it
# with its own command.
#
# Two ways in, one package list:
# - `docker compose up` / `docker compose build` (a registry answers): the whole file; the
#   first stage installs the packages on debian:bookworm-slim. If the pull of
#   debian:bookworm-slim fails, no registry answers: run `make images` first, which needs none.
# - `make images` (images/build): makes the base itself (from debian:bookworm-slim, or with
#   mmdebstrap from the host's apt sources when no registry answers) and builds only the
#   second stage on it (BASE=mtdlab/base:<hash>).
ARG BASE=packages
# Printed by the builder just before the pull below: where it fails, this is why.
ARG NO_REGISTRY="if pulling debian:bookworm-slim fails below, no registry answers here: run make images first (it needs none), then docker compose up"

# No registry? This pull fails: run `make images` first, then `docker compose up`.
FROM debian:bookworm-slim AS packages
COPY images/packages.txt /tmp/packages.txt
RUN apt-get update \
 && grep -vE '^\s*(#|$)' /tmp/packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt

# --- the lab stage (images/build builds from here on) ---
FROM ${BASE}
# Host keys would be shared by every instance and everyone who builds the image; each ssh
# instance makes its own at start (services/ssh/start).
RUN rm -f /etc/ssh/ssh_host_* && rm -f /etc/nginx/sites-enabled/default \
# Containers run with a read-only root filesystem: what must exist is made here. The proxy's
# config folder and the attacker's view are shared by containers running as different users.
 && mkdir -p /srv/ftp /etc/nginx/mtdlab /lab/view && chmod 0777 /etc/nginx/mtdlab /lab/view \
# The web instances' sockets (http-sockets volume): a mount point the image has, so a start need
# not make one, with the volume's own mode (Docker gives a new volume the image folder's).
 && mkdir -p /srv/mtdlab-http && chmod 1777 /srv/mtdlab-http \
# A tmpfs mounted over a folder of the image takes its mode: nginx (non-root) writes its temp files here.
 && chmod 1777 /var/lib/nginx \
# The classroom workstation's user (workstation/): its home is a tmpfs, mounted at start.
 && useradd --uid 2000 --user-group --home-dir /home/student --no-create-home --shell /bin/bash student \
# The lab's SSH login (mtdlab.inlab.sshuser): by key only; '*' (not '!') so sshd does not call it locked.
 && useradd --uid 2001 --user-group --home-dir /tmp --no-create-home --shell /bin/sh --password '*' labuser \
# No setuid or setgid program (su, passwd, ...): nothing in the lab needs one, and on Swarm, where a
# service cannot be given no-new-privileges (docs/swarm.md), none is there to gain privileges by.
 && find / -xdev -perm /6000 -type f -exec chmod ug-s {} +
ENV PYTHONPATH=/opt/mtdlab PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
COPY mtdlab /opt/mtdlab/mtdlab
COPY services /opt/mtdlab/services
COPY proxy /opt/mtdlab/proxy
COPY controller /opt/mtdlab/controller
COPY attacker /opt/mtdlab/attacker
COPY gateway /opt/mtdlab/gateway
COPY fence /opt/mtdlab/fence
COPY dashboard /opt/mtdlab/dashboard
COPY workstation /opt/mtdlab/workstation
COPY exercises /opt/mtdlab/exercises
WORKDIR /opt/mtdlab
