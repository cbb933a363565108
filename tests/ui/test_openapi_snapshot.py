"""The UI's typed client is generated from `ui/openapi.json`; it must describe today's API."""

from __future__ import annotations

from tests.ui.openapi_snapshot import committed_snapshot, current_document


def test_the_ui_snapshot_is_the_api_as_it_is() -> None:
    assert committed_snapshot() == current_document(), (
        "the API changed since ui/openapi.json was taken: run scripts/ui-openapi.sh and commit "
        "ui/openapi.json and ui/src/api/schema.d.ts (then fix what no longer type-checks)"
    )
