# The lab image: the base plus mtdlab's code. Every lab container (target, proxy, controller,
# attacker, service instances) runs this image with its own command.
ARG BASE
FROM ${BASE}
# Host keys would be shared by every instance and everyone who builds the image; each ssh
# instance makes its own at start (services/ssh/start).
RUN rm -f /etc/ssh/ssh_host_* && rm -f /etc/nginx/sites-enabled/default \
# Containers run with a read-only root filesystem: what must exist is made here. The proxy's
# config folder and the attacker's view are shared by containers running as different users.
 && mkdir -p /srv/ftp /etc/nginx/mtdlab /lab/view && chmod 0777 /etc/nginx/mtdlab /lab/view \
# A tmpfs mounted over a folder of the image takes its mode: nginx (non-root) writes its temp files here.
 && chmod 1777 /var/lib/nginx
ENV PYTHONPATH=/opt/mtdlab PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
COPY mtdlab /opt/mtdlab/mtdlab
COPY services /opt/mtdlab/services
COPY proxy /opt/mtdlab/proxy
COPY controller /opt/mtdlab/controller
COPY attacker /opt/mtdlab/attacker
COPY gateway /opt/mtdlab/gateway
COPY fence /opt/mtdlab/fence
WORKDIR /opt/mtdlab
