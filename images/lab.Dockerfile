# The lab image: the base plus mtdlab's code. Every lab container (target, proxy, controller,
# attacker, service instances) runs this image with its own command.
ARG BASE
FROM ${BASE}
# Host keys would be shared by every instance and everyone who builds the image; each ssh
# instance makes its own at start (services/ssh/start).
RUN rm -f /etc/ssh/ssh_host_* && rm -f /etc/nginx/sites-enabled/default
ENV PYTHONPATH=/opt/mtdlab PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
COPY mtdlab /opt/mtdlab/mtdlab
COPY services /opt/mtdlab/services
COPY proxy /opt/mtdlab/proxy
COPY controller /opt/mtdlab/controller
COPY attacker /opt/mtdlab/attacker
COPY gateway /opt/mtdlab/gateway
WORKDIR /opt/mtdlab
