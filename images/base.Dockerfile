# Registry path for the base image: the same package list as the mmdebstrap path (images/build).
FROM debian:bookworm-slim
COPY images/packages.txt /tmp/packages.txt
RUN apt-get update \
 && grep -vE '^\s*(#|$)' /tmp/packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt
