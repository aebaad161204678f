# pushoverd: Kapacitor alert topics in, Pushover notifications out.
#
#   docker build -t pushoverd .
#   docker run -p 9092:9092 -v pushoverd-data:/var/lib/pushoverd \
#     -e KAPACITOR_PUSHOVER_ENABLED=true -e KAPACITOR_PUSHOVER_TOKEN=... \
#     -e KAPACITOR_PUSHOVER_USER_KEY=... pushoverd
#
# No config file is needed: every key has a KAPACITOR_*/PUSHOVERD_* variable. To use a file,
# mount it and pass `-config` (or set PUSHOVERD_CONFIG_PATH); the variables below still win
# over it, as Kapacitor's environment does. CI lints this file (hadolint) and builds the same
# layout without an engine: tests/container/.

# The Python CI tests with, on a pinned Debian release; both stages use the same interpreter
# path, so the virtual environment built in the first runs unchanged in the second.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: the project and its dependencies into /opt/pushoverd, a venv without pip.
# Only that folder reaches the runtime image: no sources, build backend or pip cache.
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv --without-pip /opt/pushoverd \
    && pip install --no-cache-dir --python /opt/pushoverd/bin/python .

FROM ${PYTHON_IMAGE}
# A fixed numeric user (no login, no home of its own) so a volume's owner means the same on
# every host; the data folder is private, as the store creates it: it holds user keys.
RUN groupadd --system --gid 10001 pushoverd \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/pushoverd --shell /usr/sbin/nologin pushoverd \
    && install -d -m 0700 -o 10001 -g 10001 /var/lib/pushoverd \
    && install -d -m 0755 /etc/pushoverd/handlers
COPY --from=build /opt/pushoverd /opt/pushoverd

# PYTHONDONTWRITEBYTECODE: pip compiled the venv at build time, and it is root's.
ENV PATH="/opt/pushoverd/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KAPACITOR_DATA_DIR=/var/lib/pushoverd \
    KAPACITOR_LOAD_ENABLED=true \
    KAPACITOR_LOAD_DIR=/etc/pushoverd

USER 10001:10001
VOLUME ["/var/lib/pushoverd"]
EXPOSE 9092

# Pings the [http] bind-address of the same config the daemon reads (http or https).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["pushoverd", "healthcheck"]

ENTRYPOINT ["pushoverd"]
CMD ["run"]
