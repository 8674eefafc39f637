# syntax=docker/dockerfile:1

# ---- builder: install the hub and its dependencies into a self-contained virtualenv
FROM python:3.12-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# README.md is the package's long description, so the build needs it.
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY workers ./workers
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install . && pip check

# ---- runtime: the virtualenv, the browser pages and nothing else
FROM python:3.12-slim AS runtime

# HUB_DATA_DIR: a relative default would land in /app, which the unprivileged user cannot write; the
# embedded database (used when MONGODB_URI is unset) lives there, so mount a volume on /data to keep it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HUB_HOST=0.0.0.0 \
    HUB_PORT=8000 \
    HUB_WEB_DIR=/app/web \
    HUB_DATA_DIR=/data

RUN groupadd --system --gid 10001 hub \
    && useradd --system --uid 10001 --gid hub --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin hub \
    && mkdir -p /data \
    && chown hub:hub /data

# Same base image and same /opt/venv path as the builder, so the venv's interpreter symlink and the
# scripts' shebangs stay valid after the copy.
COPY --from=builder /opt/venv /opt/venv
COPY web /app/web

WORKDIR /app
USER hub
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HUB_PORT', '8000') + '/health', timeout=4)"]

CMD ["hub", "serve"]
