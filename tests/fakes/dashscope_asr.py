"""A fake Alibaba Cloud Model Studio (DashScope) realtime ASR server on 127.0.0.1: the
inference WebSocket `/api-ws/v1/inference`.

Speaks the documented task protocol: `Authorization: Bearer <key>` checked at the handshake
(HTTP 401 `{"code": "InvalidApiKey", ...}`; a 429 `Throttling.RateQuota` can be scripted);
the client sends `run-task` (`header.action`, `task_id`, `streaming: duplex`; `payload` with
`task_group: audio`, `task: asr`, `function: recognition`, `model`, `parameters.format` and
`sample_rate`, `input: {}`), the server answers `task-started`; binary audio frames follow;
the server sends `result-generated` events (`payload.output.sentence`: `text`,
`sentence_end`, `begin_time`, `end_time`), and after `finish-task` the final sentence,
`task-finished`, and the server closes the socket: a second task on one socket is not
documented, so this fake does not take one. Bad requests get `task-failed` with
`error_code`/`error_message`, among them a sample rate the model does not take
(fun-asr-realtime: 16 kHz only; the 8k models: 8 kHz only). The recognizer is scripted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.cloud_common import (
    Failure,
    LocalServer,
    Received,
    ScriptedRecognizer,
    failure_response,
)

FAKE_DASHSCOPE_KEY = "sk-dashscope-fake"
# The one sample rate some models take (by model id prefix); the others take any.
_ONLY_RATE = {
    "fun-asr-realtime": 16000,
    "fun-asr-flash-8k-realtime": 8000,
    "paraformer-realtime-8k": 8000,
}


@dataclass
class FakeDashScopeASR:
    """Server state: set `transcript`, queue handshake `failures`, or `drop_after_bytes`."""

    api_key: str = FAKE_DASHSCOPE_KEY
    transcript: str = "I would like to cancel my booking"
    seconds_per_word: float = 0.2
    failures: list[Failure] = field(default_factory=list)
    drop_after_bytes: int | None = None
    sessions: list[Received] = field(default_factory=list)
    run_tasks: list[dict[str, Any]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    # Audio that arrived while no task was running (a protocol violation).
    stray_audio_bytes: int = 0
    base_url: str = ""
    _server: LocalServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/api-ws/v1/inference", self._inference)
        self._server = LocalServer(app)
        self.base_url = f"ws://127.0.0.1:{await self._server.start()}/api-ws/v1/inference"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    async def _inference(self, request: web.Request) -> web.StreamResponse:
        self.sessions.append(Received(request.path, dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            body = {
                "code": "InvalidApiKey",
                "message": "Invalid API-key provided.",
                "request_id": "fake",
            }
            return failure_response(Failure(401), body)
        if self.failures:
            body = {
                "code": "Throttling.RateQuota",
                "message": "Requests rate limit exceeded.",
                "request_id": "fake",
            }
            return failure_response(self.failures.pop(0), body)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        task: str | None = None
        recognizer: ScriptedRecognizer | None = None
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                self.audio += message.data
                if self.drop_after_bytes is not None and len(self.audio) >= self.drop_after_bytes:
                    assert request.transport is not None
                    request.transport.close()
                    break
                if task is None or recognizer is None:
                    self.stray_audio_bytes += len(message.data)
                    continue
                words = recognizer.hear(len(message.data))
                if words is not None:
                    await _result(ws, task, " ".join(words), end=False)
                continue
            command = json.loads(message.data)
            header, payload = command.get("header", {}), command.get("payload", {})
            action = header.get("action")
            if action == "run-task":
                problem = _check_run_task(header, payload)
                if problem is not None:
                    await _event(
                        ws,
                        header.get("task_id", ""),
                        "task-failed",
                        error_code="InvalidParameter",
                        error_message=problem,
                    )
                    continue
                self.run_tasks.append(command)
                task = header["task_id"]
                rate = int(payload["parameters"]["sample_rate"])
                recognizer = ScriptedRecognizer(self.transcript, self.seconds_per_word, rate * 2)
                await _event(ws, task, "task-started")
            elif action == "finish-task" and task is not None and recognizer is not None:
                if header.get("task_id") != task:
                    await _event(
                        ws,
                        header.get("task_id", ""),
                        "task-failed",
                        error_code="InvalidParameter",
                        error_message="unknown task_id",
                    )
                    continue
                words = recognizer.settle()
                if words:
                    await _result(ws, task, " ".join(words), end=True)
                await _event(ws, task, "task-finished", output={"sentence": None})
                await ws.close()
                break
        return ws


def _check_run_task(header: dict[str, Any], payload: dict[str, Any]) -> str | None:
    if header.get("streaming") != "duplex" or not header.get("task_id"):
        return "header.streaming must be duplex and task_id set"
    expected = {"task_group": "audio", "task": "asr", "function": "recognition"}
    if any(payload.get(k) != v for k, v in expected.items()) or not payload.get("model"):
        return "payload must name task_group audio, task asr, function recognition and a model"
    parameters = payload.get("parameters") or {}
    if parameters.get("format") not in ("pcm", "wav") or not parameters.get("sample_rate"):
        return "parameters.format and parameters.sample_rate are required"
    if payload.get("input") != {}:
        return "payload.input must be {}"
    rate = int(parameters["sample_rate"])
    for prefix, only in _ONLY_RATE.items():
        if str(payload["model"]).startswith(prefix) and rate != only:
            return f"sample_rate {rate} is not supported by {payload['model']}, use {only}"
    return None


async def _event(
    ws: web.WebSocketResponse,
    task_id: str,
    event: str,
    *,
    output: dict[str, Any] | None = None,
    **extra: str,
) -> None:
    header: dict[str, Any] = {"task_id": task_id, "event": event, "attributes": {}, **extra}
    await ws.send_json({"header": header, "payload": {"output": output or {}}})


async def _result(ws: web.WebSocketResponse, task_id: str, text: str, *, end: bool) -> None:
    sentence: dict[str, Any] = {
        "begin_time": 0,
        "end_time": 1200 if end else None,
        "text": text,
        "sentence_end": end,
        "words": [],
    }
    await ws.send_json(
        {
            "header": {"task_id": task_id, "event": "result-generated", "attributes": {}},
            "payload": {
                "output": {"sentence": sentence},
                "usage": {"duration": 2} if end else None,
            },
        }
    )
