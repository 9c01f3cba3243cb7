# The image of ticketctl itself, which the Kubernetes setup Job runs (`ticketctl render --target
# kubernetes`, setting images.ticketctl). Build it from the repository root and push it where the
# cluster pulls from:
#
#   docker build -t registry.example.com/ticketctl:0.1.0 .
#   docker push registry.example.com/ticketctl:0.1.0
#
# BASE_IMAGE can be any Debian-based image with Python 3.11+ and its venv module (Debian 12 with
# python3-venv works too). The package is installed with `pip install .`, so the image holds
# exactly what the wheel holds: the code, its templates, schemas and mappings.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY . .
RUN python3 -m venv /opt/ticketctl \
 && /opt/ticketctl/bin/pip install --no-cache-dir --disable-pip-version-check . \
 && /opt/ticketctl/bin/ticketctl --version

FROM ${BASE_IMAGE}
COPY --from=build /opt/ticketctl /opt/ticketctl
# The Job's pod runs as this user (runAsNonRoot needs a numeric one): TICKETCTL_IMAGE_UID.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/ticketctl --shell /usr/sbin/nologin ticketctl
ENV PATH=/opt/ticketctl/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/ticketctl
ENTRYPOINT ["ticketctl"]
CMD ["--help"]
