"""The OpenAI `POST {base_url}/audio/transcriptions` request (multipart WAV upload, JSON
`{"text": ...}` back), spoken by OpenAI itself and by self-hosted Whisper servers
(faster-whisper-server/speaches, whisper.cpp server, vLLM, LocalAI)."""

from __future__ import annotations

import httpx
import msgspec

from providers.base import ProviderError
from providers.cloud.http import send_once


class _Transcription(msgspec.Struct):
    text: str


_decoder = msgspec.json.Decoder(_Transcription)


async def transcribe_file(
    vendor: str,
    client: httpx.AsyncClient,
    base_url: str,
    api_key: str | None,
    wav: bytes,
    *,
    model: str,
    language: str,
    prompt: str = "",
    temperature: float = 0.0,
) -> str:
    """One transcription request for the WAV file `wav`; its text."""
    fields = {
        "model": model,
        "language": language,
        "response_format": "json",
        "temperature": f"{temperature:g}",
    }
    if prompt:
        fields["prompt"] = prompt
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = client.build_request(
        "POST",
        f"{base_url}/audio/transcriptions",
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
