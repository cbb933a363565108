-- The HTTP tools an agent's model may call during a call (name, description, JSON-schema
-- parameters, method, URL, timeout, filler phrase), as the API validated them. Existing
-- agents have none.

ALTER TABLE agents ADD COLUMN tools jsonb NOT NULL DEFAULT '[]'::jsonb;
