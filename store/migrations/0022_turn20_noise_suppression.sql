-- What cleans an agent's caller audio before the VAD and the recognizer: nothing ('off', as
-- before) or WebRTC's noise suppressor ('webrtc').
ALTER TABLE agents ADD COLUMN noise_suppression text NOT NULL DEFAULT 'off'
    CHECK (noise_suppression IN ('off', 'webrtc'));
