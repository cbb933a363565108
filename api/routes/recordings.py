"""A call's recording: streamed with HTTP range support (players seek with it), or deleted.

The process puts its `RecordingStore` in the app state under `RECORDING_STORE_KEY`; without
one no recording can be found (404).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from typing import Any, Final

from litestar import Request, Router, delete, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_206_PARTIAL_CONTENT

from api.auth import Principal, authenticate, authenticate_writer
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, not_found, problem_spec, problems
from ari_app.recording import RecordingNotFound, RecordingStore, media_type
from store.repositories.calls import CallRepository

RECORDING_STORE_KEY: Final = "recording_store"
# `bytes=first-last`, `bytes=first-` or `bytes=-suffix` (one range; several are answered whole).
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def get_recording_store(state: State) -> RecordingStore | None:
    """Dependency: the process's recording store (None when recording is not set up)."""
    store: RecordingStore | None = state.get(RECORDING_STORE_KEY)
    return store


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (start, end inclusive) a Range header asks for; None for the whole file.

    Raises `ApiError(416)` for a range outside the file.
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: RFC 9110 lets us send the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start > end or start >= size:
        raise ApiError(
            416,
            f"range outside the recording ({size} bytes)",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


async def _location(
    context: ApiContext,
    principal: Principal,
    call_id: uuid.UUID,
    recordings: RecordingStore | None,
) -> tuple[RecordingStore, str]:
    """The store and location of the call's recording, or 404 (for another tenant's call too)."""
    row = await CallRepository(context.pool).get(principal.tenant_id, call_id)
    if row is None:
        raise not_found("call")
    if row.recording_path is None:
        raise not_found("recording")
    if recordings is None:
        raise ApiError(404, "recordings are not available on this deployment")
    return recordings, row.recording_path


def _audio(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=bytes,
        description=description,
        media_type="audio/flac",
        generate_examples=False,
    )


@get(
    "/{call_id:uuid}/recording",
    operation_id="getCallRecording",
    summary="Stream a call's recording (stereo: caller left, agent right; Range supported)",
    description="FLAC (audio/flac), or WAV (audio/wav) where encoding failed.",
    responses={
        200: _audio("The whole recording"),
        206: _audio("The requested byte range"),
        416: problem_spec("Range Not Satisfiable"),
        **problems(401, 404, 429),
    },
)
async def get_recording(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    recordings: NamedDependency[RecordingStore | None],
    request: Request[Any, Any, Any],
    call_id: FromPath[uuid.UUID],
) -> Stream:
    store, location = await _location(context, principal, call_id, recordings)
    try:
        size = await store.size(location)
    except RecordingNotFound as exc:
        raise not_found("recording") from exc
    wanted = parse_range(request.headers.get("range"), size)
    start, end = wanted if wanted is not None else (0, size - 1)
    length = end - start + 1 if size else 0
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Content-Disposition": f'inline; filename="{call_id}{_suffix(location)}"',
    }
    status = HTTP_200_OK
    if wanted is not None:
        status = HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Stream(
        store.read(location, start, length),
        status_code=status,
        media_type=media_type(location),
        headers=headers,
    )


def _suffix(location: str) -> str:
    dot = location.rfind(".")
    return location[dot:] if dot > location.rfind("/") else ""


@delete(
    "/{call_id:uuid}/recording",
    operation_id="deleteCallRecording",
    summary="Delete a call's recording",
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def delete_recording(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    recordings: NamedDependency[RecordingStore | None],
    call_id: FromPath[uuid.UUID],
) -> None:
    store, location = await _location(context, principal, call_id, recordings)
    # The file first: if clearing the path then fails, a retry finds the call as it was.
    with contextlib.suppress(RecordingNotFound):
        await store.delete(location)
    await CallRepository(context.pool).update(
        principal.tenant_id, call_id, {"recording_path": None}
    )
    await audit(
        context, principal, "delete", "recording", call_id, before={"recording_path": location}
    )


router = Router(
    path="/calls",
    route_handlers=[get_recording, delete_recording],
    tags=["calls"],
    security=[{"bearer": []}],
    dependencies={
        "principal": Provide(authenticate),
        "recordings": Provide(get_recording_store, sync_to_thread=False),
    },
)
