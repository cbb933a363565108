"""Twilio Programmable Voice: TwiML webhooks, Media Streams as a virtual channel, signature
validation, outbound calls with AMD and status callbacks (PROTOCOLS.md §7)."""
