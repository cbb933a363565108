"""A simulated Asterisk and simulated phone callers, for `vocals demo` and `vocals loadtest`.

`AsteriskSimulator` speaks ARI (REST + events WebSocket) and external media (AudioSocket,
RTP) the way Asterisk 22 does for inbound calls, so the real `vocals serve` controls its
calls exactly as it would a real Asterisk's. Start it, then start the server against it::

    sim = AsteriskSimulator(username="vocals", password="secret")
    await sim.start()                  # any free port on 127.0.0.1; sim.ari_url
    # the server, e.g. a subprocess with:
    #   VOCALS_ARI_URL=<sim.ari_url> VOCALS_ARI_USER=vocals VOCALS_ARI_PASSWORD=secret
    #   VOCALS_ARI_APP=vocals vocals serve
    await sim.wait_for_app("vocals")   # the server's events WebSocket is up: calls go through

A call dials a DID routed to an agent (store: inbound_routes). The caller says whatever its
`AudioSource` returns every 20 ms (default `QueueSource`: `call.play(pcm)` queues speech),
and hears the server's audio through `on_frame_received(pcm, at)`; audio is always slin
8 kHz little-endian, 320 bytes per 20 ms, `at` is `time.monotonic()` of arrival::

    heard = bytearray()
    call = sim.place_call("+15550001111", on_frame_received=lambda pcm, at: heard.extend(pcm))
    await call.media_up.wait()         # answered and bridged with the server's media
    call.play(phrases[0])              # caller speech (see `caller_phrases`)
    ...
    await call.hangup()                # or the agent ends it: `call.ended` is set either way
    await sim.stop()

`caller_phrases(cache_dir)` gives a few short caller phrases as slin 8 kHz, spoken by the
offline Piper voice at first use and cached as WAVs in `cache_dir`.

`TwilioSimulator(public_url, account_sid, auth_token)` places the same kind of call through
the server's Twilio endpoints instead (signed `POST /twilio/voice`, then the Media Streams
WebSocket), for a tenant with that Twilio account and a number whose route provider is
twilio; `await tw.start()`, then `tw.place_call(did, ...)` exactly as above (what the caller
hears is Twilio's play-out: a `clear` from the server stops it at once).
"""

from vocals.simulator.ari import AsteriskSimulator
from vocals.simulator.caller import (
    FRAME_BYTES,
    AudioSource,
    OnFrameReceived,
    QueueSource,
    SimulatedCall,
)
from vocals.simulator.twilio import TwilioRefused, TwilioSimulator
from vocals.simulator.voices import CALLER_PHRASES, caller_phrases, synthesize_phone_audio

__all__ = [
    "CALLER_PHRASES",
    "FRAME_BYTES",
    "AsteriskSimulator",
    "AudioSource",
    "OnFrameReceived",
    "QueueSource",
    "SimulatedCall",
    "TwilioRefused",
    "TwilioSimulator",
    "caller_phrases",
    "synthesize_phone_audio",
]
