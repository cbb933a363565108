"""Barge-in that hears what the caller said: a backchannel over the agent does not stop it.

`BargeInPolicy` stops the agent after enough caller speech or on words that are not
backchannels. Speech time alone misreads a slow "mm-hm" on a clean line, and any backchannel
on a noisy one, where the VAD takes the noise around it for more speech. This policy lets the
recognizer's words decide: speech with no words yet waits a little longer for them, and
speech heard as backchannels only stops the agent once it outlasts any backchannel. The
agent's audio plays on meanwhile.
"""

from __future__ import annotations

from pipeline.bargein import BargeInPolicy, content_word_count, is_backchannel

# Longer than any backchannel ("yeah, okay, sure" is about 1.2 s), so speech this long is a
# turn even when the recognizer has only caught its first words.
BACKCHANNEL_LONGEST_MS = 2000
# A streaming recognizer's first words trail the speech by about this much: speech that long
# past the rule's time with no words yet is given the time to be heard.
WORDS_GRACE_MS = 100


class BackchannelBargeIn(BargeInPolicy):
    """`BargeInPolicy` that waits for words before speech time alone stops the agent, and lets
    speech heard as backchannels pass."""

    def should_interrupt(self, speech_ms: int, transcript: str = "") -> bool:
        if is_backchannel(transcript):
            longest = max(BACKCHANNEL_LONGEST_MS, self.rule.confirm_ms)
            return speech_ms >= longest and not self.noisy_line
        if self.rule.confirm_ms and content_word_count(transcript) == 0:
            speech_ms -= WORDS_GRACE_MS  # no words yet (high sensitivities stop at onset)
        return super().should_interrupt(speech_ms, transcript)
