# pushoverd: Kapacitor alert topics in, Pushover notifications out.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    KAPACITOR_DATA_DIR=/var/lib/pushoverd \
    KAPACITOR_HTTP_BIND_ADDRESS=:9092 \
    KAPACITOR_LOAD_ENABLED=true \
    KAPACITOR_LOAD_DIR=/etc/pushoverd

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /src
WORKDIR /

RUN useradd --system --uid 10001 --home-dir /var/lib/pushoverd pushoverd \
    && mkdir -p /var/lib/pushoverd /etc/pushoverd/handlers \
    && chown -R pushoverd /var/lib/pushoverd

# Mount a kapacitor.conf at /etc/pushoverd/kapacitor.conf and handler files under
# /etc/pushoverd/handlers/, or configure entirely with KAPACITOR_* variables, e.g.
# KAPACITOR_PUSHOVER_ENABLED=true KAPACITOR_PUSHOVER_TOKEN=... KAPACITOR_PUSHOVER_USER_KEY=...
ENV PUSHOVERD_CONFIG_PATH=/etc/pushoverd/kapacitor.conf
RUN pushoverd config > /etc/pushoverd/kapacitor.conf

USER pushoverd
VOLUME ["/var/lib/pushoverd"]
EXPOSE 9092

HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import sys, urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:9092/kapacitor/v1/ping', timeout=2).status == 204 else 1)"

ENTRYPOINT ["pushoverd"]
CMD ["run"]
