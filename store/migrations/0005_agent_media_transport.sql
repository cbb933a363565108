-- An agent may choose how Asterisk's external media reaches Vocals: AudioSocket (TCP) or RTP
-- (UDP). NULL, what every existing agent gets, means the process default
-- (VOCALS_MEDIA_TRANSPORT).

ALTER TABLE agents ADD COLUMN media_transport text
    CHECK (media_transport IN ('audiosocket', 'rtp'));
