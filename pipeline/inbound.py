"""Caller audio: wire frames to PCM, speech events from the VAD, PCM at the STT's rate."""

from __future__ import annotations

from media.codec import decode_to_pcm
from media.formats import FRAME_MS, AudioFormat
from media.resample import StreamResampler
from media.vad import (
    VAD_PROFILES,
    EndRule,
    FrameClassifier,
    SpeechEnded,
    SpeechStarted,
    VadProfile,
    VoiceActivityDetector,
)
from pipeline.agent import AgentSettings
from pipeline.noise_suppression import WebRtcSuppressor, suppressor_for
from providers.vad.local import PooledSileroClassifier, call_classifier


class _OncePerFrame:
    """One classifier for both detectors: each frame is judged once (a worker-run model sees
    every frame once, and both detectors agree on what is speech)."""

    def __init__(self, classifier: FrameClassifier) -> None:
        self._classifier = classifier
        self._frame = b""
        self._said = False

    def is_speech(self, frame: bytes, sample_rate: int) -> bool:
        if frame is not self._frame:
            self._frame, self._said = frame, self._classifier.is_speech(frame, sample_rate)
        return self._said


class InboundAudio:
    """Decodes wire frames, runs the VAD on exact 20 ms frames at the leg's rate and resamples
    for the STT.

    Besides the turn-taking VAD (whose speech state lasts through the end-of-speech silence)
    a second detector with one-frame rules counts `voiced_ms`, the caller's actual speech, so
    barge-in decisions never count that trailing silence as talking. `end_rule` says when a
    silence ends the caller's speech (the agent's end-of-turn policy); `classifier` calls
    the turn-taking VAD's frames speech or not (default webrtcvad); `suppressor`, if any,
    cleans the decoded audio before both detectors and the STT get it.
    """

    def __init__(
        self,
        fmt: AudioFormat,
        profile: VadProfile,
        stt_rate: int,
        *,
        end_rule: EndRule | None = None,
        classifier: FrameClassifier | None = None,
        suppressor: WebRtcSuppressor | None = None,
    ) -> None:
        self._fmt = fmt
        self._suppressor = suppressor
        self._classifier = classifier
        rate = fmt.sample_rate
        shared = _OncePerFrame(classifier) if classifier is not None else None
        self._vad = VoiceActivityDetector(rate, profile, end_rule=end_rule, classifier=shared)
        self._voicing = VoiceActivityDetector(
            rate, VadProfile(profile.aggressiveness, FRAME_MS, FRAME_MS), classifier=shared
        )
        self._frame_pcm_bytes = fmt.samples_per_frame * 2
        self._pending = b""
        # The batch engine costs half the CPU of the low-latency one; its 60-100 ms bursts do
        # not matter here because barge-in runs on the VAD at the leg's rate, not on the STT.
        self._resampler = (
            StreamResampler(fmt.sample_rate, stt_rate, low_latency=False)
            if stt_rate != fmt.sample_rate
            else None
        )
        self.stream_ms = 0
        self.voiced_ms = 0

    @classmethod
    def for_agent(
        cls, agent: AgentSettings, fmt: AudioFormat, stt_rate: int, end_rule: EndRule
    ) -> InboundAudio:
        """A call's inbound path with its agent's barge-in profile, VAD engine and noise
        suppression."""
        profile = VAD_PROFILES[agent.barge_in]
        classifier = call_classifier(agent.vad, fmt.sample_rate, profile)
        suppressor = suppressor_for(agent.noise_suppression, fmt.sample_rate)
        return cls(
            fmt, profile, stt_rate, end_rule=end_rule, classifier=classifier, suppressor=suppressor
        )

    async def close(self) -> None:
        """Release the VAD's worker state, if it has any."""
        if isinstance(self._classifier, PooledSileroClassifier):
            await self._classifier.close()

    @property
    def in_speech(self) -> bool:
        """Inside a caller utterance (from its onset until the end-of-speech silence passed)."""
        return self._vad.in_speech

    def end_speech(self, silent_ms: int) -> SpeechEnded | None:
        """End the caller's speech where the STT heard the last word, `silent_ms` of audio ago
        (None when not in speech, or when this speech began after that word)."""
        return self._vad.end_speech(self.stream_ms - silent_ms)

    def process(self, frame: bytes) -> tuple[list[SpeechStarted | SpeechEnded], bytes]:
        """VAD events completed by `frame` and its PCM for the STT. Raises ValueError on a
        frame the codec cannot decode."""
        pcm = decode_to_pcm(frame, self._fmt)
        if self._suppressor is not None:
            pcm = self._suppressor.process(pcm)
        events: list[SpeechStarted | SpeechEnded] = []
        data = self._pending + pcm if self._pending else pcm
        size = self._frame_pcm_bytes
        offset = 0
        while len(data) - offset >= size:
            chunk = data[offset : offset + size]
            offset += size
            self.stream_ms += FRAME_MS
            self._voicing.process(chunk)
            if self._voicing.in_speech:
                self.voiced_ms += FRAME_MS
            event = self._vad.process(chunk)
            if event is not None:
                events.append(event)
        self._pending = data[offset:]
        stt_pcm = self._resampler.process(pcm) if self._resampler is not None else pcm
        return events, stt_pcm
