"""What the cloud vendors share: connection options, HTTP requests with retries, WebSockets.

Status mapping (401/403 final; 408/409/429/5xx transient, honouring `Retry-After`) is
`providers.http`'s and the backoff is `providers.retry`'s; this package applies them to
one-shot HTTP requests and to WebSocket handshakes and streams.
"""
