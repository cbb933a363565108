# The Vocals process image for docker-compose.yml: `vocals serve` with the admin UI built in.
# (Written without a Docker engine at hand; it follows the same steps as `make install`.)

FROM node:20-bookworm-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci
COPY ui/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/vocals \
    PATH=/opt/vocals/bin:$PATH VOCALS_DATA_DIR=/var/lib/vocals \
    VOCALS_RECORDINGS_DIR=/var/lib/vocals/recordings
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
COPY --from=ui /src/ui/dist ui/dist
RUN uv sync --frozen --no-dev
RUN useradd --system --home /var/lib/vocals vocals && mkdir -p /var/lib/vocals \
    && chown -R vocals /var/lib/vocals
USER vocals
EXPOSE 8000 9092 9093
CMD ["vocals", "serve"]
