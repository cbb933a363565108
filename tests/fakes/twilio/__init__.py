"""Protocol-faithful Twilio fake: Calls REST API, signed webhooks and real-time Media Streams."""

from tests.fakes.twilio.media import MediaStreamCaller, StreamLog
from tests.fakes.twilio.server import Callee, FakeCall, FakeTwilio, Webhook
from tests.fakes.twilio.signing import body_sha256, twilio_signature

__all__ = [
    "Callee",
    "FakeCall",
    "FakeTwilio",
    "MediaStreamCaller",
    "StreamLog",
    "Webhook",
    "body_sha256",
    "twilio_signature",
]
