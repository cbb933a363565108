-- The built-in tools an agent's model may use during a call (send_dtmf, wait_for_digits,
-- end_call), by name. Existing agents have none.

ALTER TABLE agents ADD COLUMN call_tools jsonb NOT NULL DEFAULT '[]'::jsonb;
