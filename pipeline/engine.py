"""`CallPipeline`: the turn engine of one call, composed of the policies in this package.

Inbound frames -> decode -> VAD (leg rate) + STT (its rate); a final transcript (or the end of
speech plus a grace period) starts a turn: LLM stream -> markers -> sentence splitter -> TTS
-> leg, sentence by sentence. Barge-in, voicemail, DTMF, failures and the call's duration
limit are handled here; states and timeouts are in `pipeline.states`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from media.formats import FRAME_MS
from media.leg import Dtmf, MarkReached, MediaLeg, MediaLegClosed
from media.vad import SpeechEnded, SpeechStarted
from pipeline.agent import AgentSettings, VoicemailAction
from pipeline.answer_supervision import Answer, AnswerSupervisor
from pipeline.backchannel import BackchannelBargeIn

# Re-exported: controllers, benchmarks and tests build a call's providers from here.
from pipeline.call_providers import CallProviders as CallProviders
from pipeline.dtmf_tools import CallTool, DtmfPort, call_tools
from pipeline.failures import (
    AllProvidersFailed,
    FailureReporter,
    ProviderChain,
    StreamBroken,
    describe,
    speech_lost,
)
from pipeline.inbound import InboundAudio
from pipeline.line_clock import LineClock
from pipeline.listener import SttSession
from pipeline.markers import Marker
from pipeline.metrics import APOLOGIES, CALLS_ENDED, observe_turn
from pipeline.prompt import dtmf_message, system_prompt
from pipeline.records import (
    CallEvent,
    CallOutcome,
    CallResult,
    LiveState,
    ProviderUsageRecord,
    TranscriptEntry,
    TurnMetrics,
)
from pipeline.reply import ReplyParser
from pipeline.sink import CallSink, SinkDispatcher
from pipeline.speaker import Speaker
from pipeline.speech_cache import SPEECH_CACHE, SpeechCache
from pipeline.states import CallState, StateMachine, Timeouts
from pipeline.tool_set import ConnectedTools
from pipeline.tools import ToolLoop
from pipeline.turn_taking import policy_for
from providers.base import (
    LLMEvent,
    Message,
    Provider,
    ToolSpec,
    Transcript,
    UtteranceEnd,
)

log = structlog.get_logger(__name__)

# Without `prepare()`, providers connect once the greeting's first frame is out (model loads
# and handshakes would otherwise delay it), or after this long at most.
GREETING_HEAD_START_S = 0.5
GREETING_FIRST_FRAMES_S = 3 * FRAME_MS / 1000

# Consecutive turns the LLM may fail (each answered with an apology) before the call ends.
MAX_FAILED_TURNS = 2

# After voicemail detection, how long to wait for the mailbox greeting to finish (its beep)
# before leaving the message anyway.
VOICEMAIL_GREETING_MAX_WAIT_S = 15.0


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who the call belongs to, for logs and records.

    Voicemail greetings are looked for in the transcript only on outbound calls: an inbound
    caller saying "I'd like to leave a message" is a person, not a mailbox.
    """

    call_id: str
    tenant_id: str
    direction: Literal["inbound", "outbound"] = "inbound"


@dataclass(slots=True)
class _Utterance:
    """The caller utterance the VAD is in (or just ended)."""

    onset_ms: int
    speech_ms: int  # voiced audio so far (trailing silence not counted)
    voiced_at_start: int  # `InboundAudio.voiced_ms` when the VAD fired
    speech_at_start: int  # speech the VAD needed before firing
    over_agent: bool  # began while interruptible agent audio was playing or being prepared
    partial: str = ""
    interrupted: bool = False


@dataclass(slots=True)
class _Reply:
    """The agent message in progress and the tasks producing it."""

    turn: TurnMetrics
    speaker: Speaker
    task: asyncio.Task[Any] | None  # the task producing it (cancelled on barge-in)
    play_task: asyncio.Task[None] | None = None
    user_text: str | None = None  # the caller text this reply answers (None: greeting)


class CallPipeline:
    """Runs one call from the moment its media leg is up until it ends.

    ``result = await CallPipeline(call=..., agent=..., providers=..., leg=..., sink=...).run()``
    The controller may call `stop()` (e.g. hangup requested over the API); the caller
    hanging up ends `run` on its own. `run` returns the `CallResult` it gave `sink.finish`.
    """

    def __init__(
        self,
        *,
        call: CallInfo,
        agent: AgentSettings,
        providers: CallProviders,
        leg: MediaLeg,
        sink: CallSink,
        speech_cache: SpeechCache = SPEECH_CACHE,
        timeouts: Timeouts | None = None,
        clock: Callable[[], float] = time.monotonic,
        dtmf: DtmfPort | None = None,
    ) -> None:
        self.call = call
        self.agent = agent
        self._providers = providers
        self._leg = leg
        self._sink = sink
        self._cache = speech_cache
        self._timeouts = timeouts or Timeouts()
        self._clock = clock
        self._log = log.bind(call_id=call.call_id, tenant_id=call.tenant_id)
        self._sm = StateMachine()
        self._barge_in = BackchannelBargeIn(agent.barge_in)
        self._answer = AnswerSupervisor()
        self._system_prompt = system_prompt(agent.system_prompt)
        self._t0 = clock()
        self._history: list[Message] = []
        self._transcript: list[TranscriptEntry] = []
        self._turns: list[TurnMetrics] = []
        self._events: list[CallEvent] = []
        self._pending_user: list[str] = []
        self._pending_end_of_speech_ms: int | None = None
        self._pending_final_ms: int | None = None
        self._utterance: _Utterance | None = None
        self._reply: _Reply | None = None
        self._grace: asyncio.TimerHandle | None = None
        self._dtmf_digits = ""
        self._dtmf_timer: asyncio.TimerHandle | None = None
        # The caller's keys go to a waiting wait_for_digits call first.
        self._keypad, self._tools = call_tools(agent.call_tools, dtmf, providers.tools)
        self._failed_turns = 0
        self._turn_numbers = itertools.count(1)  # turn 0 is the greeting
        self._leaving_voicemail = False
        self._voicemail_by: Literal["llm", "transcript"] | None = None
        self._outcome: CallOutcome | None = None
        self._error: str | None = None
        self._stop = asyncio.Event()
        self._caller_silent = asyncio.Event()
        self._caller_silent.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._providers_ready: asyncio.Task[None] | None = None
        self._greeting_out = asyncio.Event()  # the welcome's first frame left (or none)
        self._finals_to_skip = 0  # finals of utterances already answered from a partial
        self._dispatch: SinkDispatcher | None = None
        reporter = FailureReporter(
            tenant_id=call.tenant_id, call_id=call.call_id, record=self._record,
            clock_ms=self._now_ms,
        )  # fmt: skip
        self._reporter = reporter
        connect_s = self._timeouts.provider_connect_s
        self._stt = SttSession(
            providers.stt,
            providers.stt_fallback,
            connect_timeout_s=connect_s,
            reporter=reporter,
            record=self._event,
            spawn=self._spawn,
            on_transcript=self._on_transcript,
            on_utterance_end=self._on_utterance_end,
            on_lost=self._fatal_apology,
        )
        self._llm = ProviderChain(providers.llm, providers.llm_fallback, reporter, connect_s)
        self._tts = ProviderChain(providers.tts, providers.tts_fallback, reporter, connect_s)
        self._turn_end = policy_for(agent)
        rate, rule = providers.stt.sample_rate, self._turn_end.turn_over
        self._inbound = InboundAudio.for_agent(agent, leg.format, rate, rule)
        self._line = LineClock(leg.format, self._on_frame)  # hears a quiet line's gaps

    # ---- public API -------------------------------------------------------------------

    @property
    def state(self) -> CallState:
        return self._sm.state

    @property
    def history(self) -> list[Message]:
        """The conversation as the LLM sees it (assistant turns as heard)."""
        return list(self._history)

    def stop(self) -> None:
        """End the call from outside (API hangup, shutdown); `run` returns soon after."""
        self._end(CallOutcome.STOPPED)

    # ---- call-control tools (pipeline.transfer_tool.AgentVoice) ----------------------------

    async def say_and_wait(self, text: str, *, aside: bool = False) -> None:
        """Say `text` in the reply in progress, which the caller can no longer interrupt, and
        return once everything it queued was heard (an `aside`: by the transfer target)."""
        reply = self._reply
        if reply is None:
            return
        reply.speaker.interruptible = False
        if text:
            reply.speaker.say(text, aside=aside)
        await reply.speaker.wait_heard()

    def note(self, kind: str, **detail: str) -> None:
        self._event(kind, **detail)

    def transferred(self) -> None:
        """The caller was handed over, even if the leg closed first as part of it."""
        self._outcome, self._error = CallOutcome.TRANSFERRED, None
        self._stop.set()

    async def prepare(self) -> None:
        """Connect the providers and cache the apology, before the leg is up (optional).

        A controller calls this while the media channel is being set up, so model loads and
        handshakes do not compete with the greeting. Without it, `run` connects them once the
        greeting's first frame is out. Failures are handled as in a call (fallback, record).
        """
        if self._providers_ready is None:
            self._providers_ready = self._spawn(self._start_providers())
        await asyncio.shield(self._providers_ready)

    async def run(self) -> CallResult:
        """Greet, converse until the call ends, write the record; never raises for a
        provider or media failure (those end up in the record)."""
        self._t0 = self._clock()
        self._dispatch = SinkDispatcher(
            self._sink, call_id=self.call.call_id, tenant_id=self.call.tenant_id
        )
        loop = asyncio.get_running_loop()
        limit = loop.call_later(self.agent.max_call_duration_s, self._on_max_duration)
        self._spawn(self._greet())
        if self._providers_ready is None:
            self._providers_ready = self._spawn(self._start_providers_after_greeting())
        self._spawn(self._consume_leg())
        self._spawn(self._line.run())
        try:
            await self._stop.wait()
        finally:
            limit.cancel()
            result = await self._shutdown()
        return result

    # ---- clock, records, tasks ----------------------------------------------------------

    def _now_ms(self) -> int:
        return int((self._clock() - self._t0) * 1000)

    def _record(self, event: CallEvent) -> None:
        self._events.append(event)
        if self._dispatch is not None:
            self._dispatch.event(event)

    def _event(self, kind: str, **detail: str) -> None:
        self._record(CallEvent(kind, self._now_ms(), detail))

    def _add_transcript(self, entry: TranscriptEntry) -> None:
        self._transcript.append(entry)
        if self._dispatch is not None:
            self._dispatch.transcript(entry)

    def _save_live_state(self) -> None:
        if self._dispatch is not None:
            self._dispatch.live_state(
                LiveState(
                    call_id=self.call.call_id,
                    tenant_id=self.call.tenant_id,
                    state=self._sm.state,
                    history=list(self._history),
                    turns=len(self._turns),
                    elapsed_ms=self._now_ms(),
                )
            )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._log.error("pipeline_task_failed", error=describe(error), exc_info=error)
            self._end(CallOutcome.ERROR, f"internal error: {describe(error)}")

    def _to(self, state: CallState) -> None:
        if self._sm.ending:
            return
        if self._sm.to(state):
            self._log.debug("call_state", state=state.value)

    def _end(self, outcome: CallOutcome, error: str | None = None) -> None:
        if self._outcome is None:
            self._outcome = outcome
            self._error = error
        self._stop.set()

    def _on_max_duration(self) -> None:
        self._event("max_duration", limit_s=str(self.agent.max_call_duration_s))
        self._end(CallOutcome.MAX_DURATION)

    # ---- start-up --------------------------------------------------------------------

    async def _greet(self) -> None:
        text = self.agent.welcome_message.strip()
        if not text:
            self._greeting_out.set()
            self._to(CallState.LISTENING)
            return
        turn = TurnMetrics(index=0)
        speaker = self._new_speaker(turn, interruptible=self.agent.welcome_interruptible)
        cached = self._cache.get(self._providers.tts, text)
        if cached is not None:
            speaker.say_audio(text, cached.wire(self._leg.format))
        else:
            self._greeting_out.set()  # the TTS must connect first anyway
            speaker.say(text)
        speaker.finish()
        reply = _Reply(turn, speaker, asyncio.current_task())
        if not await self._play_reply(reply):
            return
        self._finish_reply(reply)
        self._after_reply()

    async def _start_providers_after_greeting(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GREETING_HEAD_START_S):
                await self._greeting_out.wait()
        # Handed to the leg is not yet on the wire: let the first frames leave before model
        # loads compete for the interpreter.
        await asyncio.sleep(GREETING_FIRST_FRAMES_S)
        await self._start_providers()

    async def _start_providers(self) -> None:
        await asyncio.gather(
            self._stt.open(),
            self._llm.connect_primary(),
            self._tts.connect_primary(),
            self._open_tools(),
        )
        await self._warm_fixed_speech()

    async def _open_tools(self) -> None:
        """List the tools that live on servers (MCP); one that fails leaves its tools out."""
        tools = self._tools
        if isinstance(tools, ConnectedTools):
            for source, reason in (await tools.open()).items():
                self._event("tool.unavailable", source=source, reason=reason)

    async def _warm_fixed_speech(self) -> None:
        """Make sure the apology (and voicemail message) can be spoken from cache."""
        texts = [self.agent.apology_message]
        if self.agent.voicemail.action is VoicemailAction.LEAVE_MESSAGE:
            texts.append(self.agent.voicemail.message or "")
        missing = [t for t in texts if self._cached_speech(t) is None]
        if not missing:
            return
        tts = await self._tts.first_usable()
        if tts is None:
            return
        for text in missing:
            try:
                await self._cache.get_or_synthesize(tts, text)
            except Exception as e:
                self._reporter.provider_failed(tts, e, retried=False, fallback=False)

    def _cached_speech(self, text: str) -> tuple[str, bytes] | None:
        for tts in (self._providers.tts, self._providers.tts_fallback):
            if tts is not None and (entry := self._cache.get(tts, text)) is not None:
                return text, entry.wire(self._leg.format)
        return None

    def _apology(self) -> tuple[str, bytes] | None:
        speech = self._cached_speech(self.agent.apology_message)
        if speech is not None:
            APOLOGIES.inc()
        else:
            self._log.error("apology_unavailable")
            self._end(CallOutcome.ERROR, "no provider could speak, apology not cached")
        return speech

    # ---- fatal -------------------------------------------------------------------------

    async def _fatal_apology(self, reason: str) -> None:
        """Tell the caller we cannot go on, then end the call with `reason`."""
        self._log.error("call_cannot_continue", reason=reason)
        self._cancel_reply()
        speech = self._apology()
        if speech is not None:
            turn = TurnMetrics(index=next(self._turn_numbers), failed=True)
            speaker = self._new_speaker(turn, interruptible=False)
            speaker.say_audio(*speech)
            speaker.finish()
            reply = _Reply(turn, speaker, asyncio.current_task())
            if await self._play_reply(reply):
                self._finish_reply(reply)
        self._end(CallOutcome.ERROR, reason)

    # ---- inbound -----------------------------------------------------------------------

    async def _consume_leg(self) -> None:
        try:
            async for event in self._leg.events():
                if isinstance(event, bytes):
                    await self._line.frame(event)
                elif isinstance(event, MarkReached):
                    if self._reply is not None:
                        self._reply.speaker.on_mark(event.name)
                elif isinstance(event, Dtmf):
                    self._on_dtmf(event.digit)
        except ValueError as e:
            self._end(CallOutcome.ERROR, f"malformed media: {e}")
            return
        self._end(CallOutcome.CALLER_HUNG_UP)

    async def _on_frame(self, frame: bytes) -> None:
        events, stt_pcm = self._inbound.process(frame)
        for event in events:
            if isinstance(event, SpeechStarted):
                self._on_speech_started(event)
            else:
                self._barge_in.noisy_line = False  # the VAD heard silence: it hears the line
                self._on_speech_ended(event)
        utterance = self._utterance
        if utterance is not None and self._inbound.in_speech and not utterance.interrupted:
            voiced = self._inbound.voiced_ms - utterance.voiced_at_start
            utterance.speech_ms = utterance.speech_at_start + voiced
            self._check_barge_in()
        if stt_pcm:
            await self._stt.send_audio(stt_pcm)

    def _audio_ms_to_clock(self, at_ms: int) -> int:
        """A VAD time (audio received) on the call's clock."""
        return self._now_ms() - (self._inbound.stream_ms - at_ms)

    def _on_speech_started(self, event: SpeechStarted) -> None:
        self._cancel_grace()
        self._turn_end.heard("")
        self._caller_silent.clear()
        reply = self._reply
        over_agent = (
            reply is not None and reply.speaker.interruptible and not self._leaving_voicemail
        )
        speech_ms = self._inbound.stream_ms - event.at_ms
        self._utterance = _Utterance(
            onset_ms=event.at_ms,
            speech_ms=speech_ms,
            voiced_at_start=self._inbound.voiced_ms,
            speech_at_start=speech_ms,
            over_agent=over_agent,
        )
        if over_agent:
            self._check_barge_in()

    def _on_speech_ended(self, event: SpeechEnded) -> None:
        self._caller_silent.set()
        self._pending_end_of_speech_ms = self._audio_ms_to_clock(event.at_ms)
        self._stt.end_utterance()
        if self._pending_user and self._pending_final_ms is not None:
            self._maybe_start_turn()
        else:
            loop = asyncio.get_running_loop()
            self._grace = loop.call_later(self._timeouts.stt_final_grace_s, self._on_grace)

    def _on_utterance_end(self, event: UtteranceEnd) -> None:
        """The recognizer heard the caller's words end where the VAD, on a noisy line, heard
        no silence: end the speech there, and let only words interrupt the answer."""
        ended = self._inbound.end_speech(event.silent_ms)
        if ended is not None:
            self._event("stt.utterance_end")
            self._barge_in.noisy_line = True
            self._on_speech_ended(ended)

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def _on_grace(self) -> None:
        """No final transcript in time after the end of speech: take the latest partial."""
        self._grace = None
        utterance = self._utterance
        if utterance is None or (utterance.over_agent and not utterance.interrupted):
            return
        if not self._pending_user and utterance.partial.strip():
            self._pending_user.append(utterance.partial.strip())
            self._pending_final_ms = self._now_ms()
            self._finals_to_skip += 1  # its final, when it comes, was answered already
        self._maybe_start_turn()

    def _on_transcript(self, transcript: Transcript) -> None:
        utterance = self._utterance
        text = transcript.text.strip()
        self._turn_end.heard(text or " ".join(self._pending_user))
        if not transcript.is_final:
            if utterance is not None:
                utterance.partial = text
                if self._inbound.in_speech and not utterance.interrupted:
                    self._check_barge_in()
            return
        if self._finals_to_skip:
            self._finals_to_skip -= 1
            self._event("late_final", text=text)
            return
        if utterance is not None and utterance.over_agent and not utterance.interrupted:
            still_over_agent = self._reply is not None and self._reply.speaker.interruptible
            if still_over_agent and not self._barge_in.should_interrupt(utterance.speech_ms, text):
                if text:
                    self._event("backchannel", text=text)
                return
            if still_over_agent:
                self._interrupt(by_speech=True)
        if utterance is not None:
            utterance.partial = ""
        if not text:
            return
        self._pending_user.append(text)
        self._pending_final_ms = self._now_ms()
        if not self._inbound.in_speech:
            self._maybe_start_turn()

    def _check_barge_in(self) -> None:
        utterance = self._utterance
        reply = self._reply
        if utterance is None or reply is None or not utterance.over_agent:
            return
        if not reply.speaker.interruptible or utterance.interrupted:
            return
        if self._barge_in.should_interrupt(utterance.speech_ms, utterance.partial):
            self._interrupt(by_speech=True)

    def _on_dtmf(self, digit: str) -> None:
        self._event("dtmf", digit=digit)
        if self._keypad.offer(digit):
            return
        if self._reply is not None and self._reply.speaker.interruptible:
            self._interrupt(by_speech=False)
        self._dtmf_digits += digit
        if self._dtmf_timer is not None:
            self._dtmf_timer.cancel()
        if digit == "#":
            self._dtmf_done()
        else:
            loop = asyncio.get_running_loop()
            self._dtmf_timer = loop.call_later(self._timeouts.dtmf_collect_s, self._dtmf_done)

    def _dtmf_done(self) -> None:
        self._dtmf_timer = None
        digits, self._dtmf_digits = self._dtmf_digits, ""
        if digits:
            self._pending_user.append(dtmf_message(digits))
            self._pending_final_ms = self._now_ms()
            self._maybe_start_turn()

    # ---- barge-in ----------------------------------------------------------------------

    def _interrupt(self, *, by_speech: bool) -> None:
        """Stop the agent now: clear the leg, cancel LLM/TTS, keep what was heard."""
        reply = self._reply
        utterance = self._utterance if by_speech else None
        if reply is None:
            return
        played_ms = max(0, reply.speaker.sent_ms - self._leg.queued_ms)
        self._leg.clear()
        self._cancel_reply()
        now = self._now_ms()
        turn = reply.turn
        turn.interrupted = True
        if utterance is not None:
            utterance.interrupted = True
            turn.barge_in_speech_ms = self._audio_ms_to_clock(utterance.onset_ms)
        turn.barge_in_decided_ms = now
        turn.barge_in_cleared_ms = now
        heard = reply.speaker.heard(played_ms)
        if reply.user_text is not None and not reply.speaker.sent_ms and not turn.tool_calls:
            # Nothing was said or done yet: the caller is still talking; answer both together.
            if self._history and self._history[-1].role == "user":
                self._history.pop()
            self._pending_user.insert(0, reply.user_text)
        elif heard:
            self._history.append(Message("assistant", heard))
            self._add_transcript(TranscriptEntry("agent", heard, now, interrupted=True))
        self._event("barge_in", heard_ms=str(played_ms))
        self._close_turn(turn)
        self._to(CallState.LISTENING)
        self._save_live_state()

    def _cancel_reply(self) -> None:
        reply, self._reply = self._reply, None
        if reply is None:
            return
        if reply.play_task is not None:
            reply.play_task.cancel()
        if reply.task is not None and reply.task is not asyncio.current_task():
            reply.task.cancel()

    # ---- turns -------------------------------------------------------------------------

    def _maybe_start_turn(self) -> None:
        if self._sm.ending or self._leaving_voicemail or not self._pending_user:
            return
        if self._reply is not None or self._inbound.in_speech:
            return  # answered after the current message or once the caller stops talking
        self._cancel_grace()
        text = " ".join(self._pending_user)
        is_dtmf = all(p.startswith("(") for p in self._pending_user)
        self._pending_user.clear()
        turn = TurnMetrics(
            index=next(self._turn_numbers),
            end_of_speech_ms=self._pending_end_of_speech_ms,
            stt_final_ms=self._pending_final_ms,
        )
        self._pending_end_of_speech_ms = self._pending_final_ms = None
        self._add_transcript(TranscriptEntry("caller", text, self._now_ms(), dtmf=is_dtmf))
        outbound = self.call.direction == "outbound"
        heard = self._answer.check(text) if outbound and not is_dtmf else None
        if heard is Answer.VOICEMAIL:
            self._spawn(self._on_voicemail("transcript"))
            return
        if heard is not None:
            self._event("answered_by", system=heard.value)
            if heard is Answer.IVR and CallTool.SEND_DTMF not in self.agent.call_tools:
                self._end(CallOutcome.IVR)
                return
        self._history.append(Message("user", text))
        self._to(CallState.THINKING)
        speaker = self._new_speaker(turn, interruptible=True)
        task = asyncio.create_task(self._run_turn(turn, speaker))
        self._reply = _Reply(turn, speaker, task, user_text=text)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        self._save_live_state()

    def _new_speaker(self, turn: TurnMetrics, *, interruptible: bool) -> Speaker:
        def first_audio() -> None:
            turn.tts_first_audio_ms = self._now_ms()

        def first_frame() -> None:
            turn.first_frame_out_ms = self._now_ms()
            self._greeting_out.set()
            if self._sm.state in (CallState.THINKING, CallState.LISTENING):
                self._to(CallState.SPEAKING)

        return Speaker(
            leg=self._leg,
            tts=self._tts,
            timeouts=self._timeouts,
            mark_prefix=f"turn{turn.index}.{id(turn):x}",
            interruptible=interruptible,
            apology=self._apology,
            on_first_audio=first_audio,
            on_first_frame=first_frame,
        )

    async def _run_turn(self, turn: TurnMetrics, speaker: Speaker) -> None:
        reply = self._reply
        assert reply is not None and reply.speaker is speaker
        reply.play_task = asyncio.create_task(speaker.run())
        marker = await self._stream_reply(turn, speaker, list(self._history))
        if marker is Marker.VOICEMAIL:
            self._cancel_reply()
            self._leg.clear()
            await self._on_voicemail("llm")
            return
        if not await self._play_reply(reply):
            return
        self._finish_reply(reply)
        if marker is Marker.END_CALL:
            self._event("end_call")
            self._end(CallOutcome.AGENT_ENDED)
            return
        if self._failed_turns > MAX_FAILED_TURNS:
            self._end(CallOutcome.ERROR, "language model failed repeatedly")
            return
        self._after_reply()

    async def _stream_reply(
        self, turn: TurnMetrics, speaker: Speaker, history: list[Message]
    ) -> Marker | None:
        """Feed the LLM's reply to `speaker` sentence by sentence (tool calls run on the way,
        see `pipeline.tools`); the marker that ended it."""
        parser = ReplyParser()

        def open_round(
            messages: list[Message], tools: Sequence[ToolSpec]
        ) -> AsyncIterator[LLMEvent]:
            return self._llm.stream(
                lambda llm: llm.generate(messages, self._system_prompt, tools),
                first_timeout_s=self._timeouts.llm_first_token_s,
                idle_timeout_s=self._timeouts.llm_idle_s,
            )

        def say(sentences: list[str]) -> None:
            for sentence in sentences:
                if turn.first_sentence_ms is None:
                    turn.first_sentence_ms = self._now_ms()
                speaker.say(sentence)

        tools = ToolLoop(
            self._tools, turn, say=lambda phrase: say([phrase]),
            pause=lambda: say(parser.flush()), remember=self._history.append,
            record=self._record, clock_ms=self._now_ms,
        )  # fmt: skip
        try:
            async for delta in tools.reply(history, open_round):
                if turn.llm_first_token_ms is None:
                    turn.llm_first_token_ms = self._now_ms()
                say(parser.push(delta))
                if parser.done:
                    tools.close_round()
            say(parser.finish())
            self._failed_turns = 0
        except (AllProvidersFailed, StreamBroken):
            if parser.done:  # the reply was whole; only the usage after its marker was lost
                say(parser.finish())
            else:
                turn.failed = True
                self._failed_turns += 1
                if (speech := self._apology()) is not None:
                    speaker.say_audio(*speech)
        speaker.finish()
        return Marker.END_CALL if tools.ends_call else parser.marker

    async def _play_reply(self, reply: _Reply) -> bool:
        """Until the whole message was sent and heard (its last mark came back); False when
        the call ended first (the shutdown records what was heard)."""
        if reply.play_task is None:
            reply.play_task = asyncio.create_task(reply.speaker.run())
        if self._reply is None:
            self._reply = reply
        try:
            await reply.play_task
        except MediaLegClosed:
            self._end(CallOutcome.CALLER_HUNG_UP)
            return False
        if self._stop.is_set():
            return False
        grace = self._leg.queued_ms / 1000 + self._timeouts.mark_grace_s
        try:
            async with asyncio.timeout(grace):
                await reply.speaker.wait_played()
        except TimeoutError:
            self._log.warning("mark_missing", turn=reply.turn.index)
        return not self._stop.is_set()

    def _finish_reply(self, reply: _Reply) -> None:
        """The message played to its end: record it and leave the SPEAKING state."""
        if self._reply is reply:
            self._reply = None
        text = reply.speaker.spoken_text
        if text:
            if reply.user_text is not None or reply.turn.index == 0:
                self._history.append(Message("assistant", text))
            self._add_transcript(TranscriptEntry("agent", text, self._now_ms()))
        self._close_turn(reply.turn)

    def _after_reply(self) -> None:
        self._to(CallState.LISTENING)
        self._save_live_state()
        self._maybe_start_turn()

    def _close_turn(self, turn: TurnMetrics) -> None:
        self._turns.append(turn)
        observe_turn(turn)
        if self._dispatch is not None:
            self._dispatch.turn(turn)

    # ---- voicemail ---------------------------------------------------------------------

    async def _on_voicemail(self, detected_by: Literal["llm", "transcript"]) -> None:
        if self._leaving_voicemail:
            return
        self._leaving_voicemail = True
        self._voicemail_by = detected_by
        self._event("voicemail", detected_by=detected_by)
        self._outcome = self._outcome or CallOutcome.VOICEMAIL
        policy = self.agent.voicemail
        if policy.action is VoicemailAction.LEAVE_MESSAGE and policy.message:
            await self._wait_greeting_over()
            turn = TurnMetrics(index=next(self._turn_numbers))
            speaker = self._new_speaker(turn, interruptible=False)
            cached = self._cached_speech(policy.message)
            if cached is not None:
                speaker.say_audio(*cached)
            else:
                speaker.say(policy.message)
            speaker.finish()
            reply = _Reply(turn, speaker, asyncio.current_task())
            self._reply = reply
            self._to(CallState.SPEAKING)
            if await self._play_reply(reply):
                self._finish_reply(reply)
        self._end(CallOutcome.VOICEMAIL)

    async def _wait_greeting_over(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(VOICEMAIL_GREETING_MAX_WAIT_S):
                await self._caller_silent.wait()

    # ---- shutdown ----------------------------------------------------------------------

    async def _shutdown(self) -> CallResult:
        self._to(CallState.ENDING)
        self._cancel_grace()
        if self._dtmf_timer is not None:
            self._dtmf_timer.cancel()
        reply = self._reply
        self._cancel_reply()
        if reply is not None and reply.speaker.sent_ms:
            heard = reply.speaker.heard(max(0, reply.speaker.sent_ms - self._leg.queued_ms))
            if heard:
                cut = heard != reply.speaker.spoken_text  # a hand-over is heard in full
                self._add_transcript(TranscriptEntry("agent", heard, self._now_ms(), cut))
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self._timeouts.shutdown_s)
        try:
            async with asyncio.timeout(self._timeouts.shutdown_s):
                await self._leg.hangup()
        except Exception as e:
            self._log.warning("hangup_failed", error=describe(e))
        await asyncio.gather(self._stt.close(), self._inbound.close())
        if isinstance(self._tools, ConnectedTools):
            await self._tools.close()
        used: list[Provider] = [*self._stt.used, *self._llm.used, *self._tts.used]
        await asyncio.gather(*(self._close_provider(p) for p in used))
        outcome = self._answer.outcome(self._outcome or CallOutcome.STOPPED)
        CALLS_ENDED.labels(outcome.value).inc()
        result = CallResult(
            call_id=self.call.call_id,
            tenant_id=self.call.tenant_id,
            outcome=outcome,
            duration_ms=self._now_ms(),
            transcript=list(self._transcript),
            turns=list(self._turns),
            provider_usage=[self._usage(p) for p in used],
            events=list(self._events),
            voicemail_detected_by=self._voicemail_by,
            error_reason=self._error or speech_lost(self._events),
        )
        self._sm.to(CallState.ENDED)
        self._log.info("call_ended", outcome=outcome.value, error=result.error_reason)
        assert self._dispatch is not None
        await self._dispatch.finish(result)
        return result

    def _usage(self, provider: Provider) -> ProviderUsageRecord:
        primary = (self._providers.stt, self._providers.llm, self._providers.tts)
        return ProviderUsageRecord(
            kind=provider.kind,
            vendor=provider.vendor,
            fallback=provider not in primary,
            usage=provider.usage,
            model=provider.config.model,
        )

    async def _close_provider(self, provider: Provider) -> None:
        try:
            async with asyncio.timeout(self._timeouts.shutdown_s):
                await provider.close()
        except Exception as e:
            self._log.warning(
                "provider_close_failed",
                provider_kind=provider.kind.value,
                vendor=provider.vendor,
                error=describe(e),
            )
