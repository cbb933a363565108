"""The one fake Asterisk every end-to-end test uses (ARI REST + events WS + media)."""

from tests.fakes.asterisk.caller import Callee, IvrMenu, ScriptedCaller, tone
from tests.fakes.asterisk.server import FakeAsterisk, Origination, RestCall

__all__ = ["Callee", "FakeAsterisk", "IvrMenu", "Origination", "RestCall", "ScriptedCaller", "tone"]
