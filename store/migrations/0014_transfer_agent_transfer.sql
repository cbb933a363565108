-- Whether an agent's model may transfer callers, blind or warm, and to which named
-- destinations (PJSIP endpoints, dialplan context,exten, E.164 numbers), as the API validated
-- them. Existing agents do not transfer.

ALTER TABLE agents ADD COLUMN transfer jsonb NOT NULL DEFAULT '{}'::jsonb;
