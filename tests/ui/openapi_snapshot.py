"""The API's OpenAPI document, built from the app without a database, and the UI's committed
snapshot of it (`ui/openapi.json`, from which `npm run gen:api` generates the typed client).

`python -m tests.ui.openapi_snapshot` rewrites the snapshot; scripts/ui-openapi.sh also
regenerates the client from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from api.app import create_app
from api.context import ApiContext, ApiSettings
from store.secrets import SecretBox

SNAPSHOT = Path(__file__).absolute().parents[2] / "ui" / "openapi.json"


def current_document() -> dict[str, Any]:
    """What `/api/v1/openapi.json` serves; building the schema touches no connection."""
    context = ApiContext(
        pool=cast(Any, None),
        redis=cast(Any, None),
        box=SecretBox("openapi-snapshot-needs-no-real-key"),
        settings=ApiSettings(ui_dist=None),
    )
    document = create_app(context).openapi_schema.to_schema()
    # Through JSON so the comparison sees exactly what a client would parse.
    return cast(dict[str, Any], json.loads(json.dumps(document)))


def committed_snapshot() -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(SNAPSHOT.read_text()))


def write_snapshot() -> None:
    SNAPSHOT.write_text(json.dumps(current_document(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_snapshot()
