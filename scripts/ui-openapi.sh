#!/bin/sh
# Refresh the UI's OpenAPI snapshot from the API code and regenerate the typed client from it.
set -eu
cd "$(dirname "$0")/.."
uv run --frozen --no-sync python -m tests.ui.openapi_snapshot
npm --prefix ui run gen:api
