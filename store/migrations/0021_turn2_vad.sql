-- What calls an agent's caller audio speech: webrtcvad ('webrtc', as before) or Silero
-- ('silero', for noisy lines; run in the local workers).
ALTER TABLE agents ADD COLUMN vad text NOT NULL DEFAULT 'webrtc'
    CHECK (vad IN ('webrtc', 'silero'));
