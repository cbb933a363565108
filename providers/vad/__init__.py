"""Voice activity detection engines selectable per agent (webrtcvad default, Silero)."""
