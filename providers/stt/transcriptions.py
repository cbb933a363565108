"""The OpenAI `POST {base_url}/audio/transcriptions` request (multipart WAV upload, JSON
`{"text": ...}` back), spoken by OpenAI itself and by self-hosted Whisper servers
(faster-whisper-server/speaches, vLLM, LocalAI), and whisper.cpp's `whisper-server`, which
takes the same multipart fields at its own path (`/inference` unless started with
`--inference-path`) and ignores the model (it serves the one it loaded)."""

from __future__ import annotations

import httpx
import msgspec

from providers.base import ProviderError
from providers.cloud.http import send_once


class _Transcription(msgspec.Struct):
    text: str


_decoder = msgspec.json.Decoder(_Transcription)
# Answers of a server that has no `/models` endpoint.
_NO_MODELS_ENDPOINT = {404, 405}


async def transcribe_file(
    vendor: str,
    client: httpx.AsyncClient,
    base_url: str,
    api_key: str | None,
    wav: bytes,
    *,
    model: str | None,
    language: str,
    prompt: str = "",
    temperature: float = 0.0,
    path: str = "/audio/transcriptions",
) -> str:
    """One transcription request for the WAV file `wav` (to `base_url` + `path`); its text."""
    fields = {
        "language": language,
        "response_format": "json",
        "temperature": f"{temperature:g}",
    }
    if model is not None:
        fields["model"] = model
    if prompt:
        fields["prompt"] = prompt
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = client.build_request(
        "POST",
        f"{base_url}{path}",
        data=fields,
        files={"file": ("utterance.wav", wav, "audio/wav")},
        headers=headers,
    )
    response = await send_once(vendor, client, request)
    try:
        return _decoder.decode(response.content).text
    except msgspec.DecodeError as exc:
        raise ProviderError(f"{vendor}: unreadable transcription: {exc}", retryable=False) from exc


async def list_models(
    vendor: str, client: httpx.AsyncClient, base_url: str, api_key: str | None
) -> None:
    """`GET {base_url}/models`: the cheapest authenticated call of OpenAI-style servers."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    await send_once(
        vendor, client, client.build_request("GET", f"{base_url}/models", headers=headers)
    )


async def check_server(
    vendor: str, client: httpx.AsyncClient, base_url: str, api_key: str | None
) -> None:
    """`list_models`, except that a server without `/models` (whisper.cpp) passes: it
    answered, and a refused key would have been 401/403, not 404."""
    try:
        await list_models(vendor, client, base_url, api_key)
    except ProviderError as exc:
        if exc.status not in _NO_MODELS_ENDPOINT:
            raise
