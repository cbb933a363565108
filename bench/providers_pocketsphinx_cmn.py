"""Learn PocketSphinx's initial cepstral means (`cmninit`) for telephone speech.

Streams piper sentences through a µ-law 8 kHz line into one decoder in 20 ms chunks, as a
call would, and prints the live CMN the decoder converges to, plus a word check of a cold
decoder against one started from the learned values. The printed vector is what
`providers.stt.pocketsphinx.TELEPHONE_CMNINIT` holds.

    uv run --frozen --no-sync python -m bench.providers_pocketsphinx_cmn
"""

from __future__ import annotations

from pocketsphinx import Decoder

from bench.providers_audio import telephone_speech

# Piper peaks at full scale; telephone speech sits about 10 dB lower.
GAIN = 0.3
CHUNK_BYTES = 640  # 20 ms at 16 kHz
SENTENCES = (
    "Hello, I would like to book an appointment for tomorrow morning.",
    "What are your opening hours on Saturday?",
    "Can you tell me the price of a haircut?",
    "My name is John Smith and my phone number is five five five one two three four.",
    "Thank you very much, goodbye.",
)


def stream(decoder: Decoder, pcm: bytes) -> str:
    decoder.start_utt()
    for start in range(0, len(pcm), CHUNK_BYTES):
        decoder.process_raw(pcm[start : start + CHUNK_BYTES], False, False)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return str(hypothesis.hypstr) if hypothesis is not None else ""


def main() -> None:
    utterances = [telephone_speech(text, GAIN) for text in SENTENCES]
    learner = Decoder(loglevel="FATAL")
    for pcm in utterances * 2:
        stream(learner, pcm)
    learned = ",".join(f"{float(v):.2f}" for v in learner.get_cmn(False).split(","))
    print(f"learned cmninit: {learned}")
    for label, cmninit in (("cold", None), ("learned", learned)):
        kwargs = {"cmninit": cmninit} if cmninit else {}
        first = stream(Decoder(loglevel="FATAL", **kwargs), utterances[0])
        print(f"{label:8} first utterance: {first!r}")


if __name__ == "__main__":
    main()
