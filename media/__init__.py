"""Audio primitives and media transports: codecs, resampling, VAD, framing, AudioSocket, RTP."""
