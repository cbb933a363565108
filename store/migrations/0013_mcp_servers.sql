-- The MCP servers (streamable HTTP) whose tools an agent's model may use during a call: name,
-- URL, which of the server's tools are offered, timeout and filler phrase, as the API validated
-- them. Existing agents have none.

ALTER TABLE agents ADD COLUMN mcp_servers jsonb NOT NULL DEFAULT '[]'::jsonb;
