"""Browser calls: a WebSocket carrying 16 kHz PCM both ways as a `MediaLeg`, started with a
short-lived single-use token, handed to the controller as a virtual channel."""
