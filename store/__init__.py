"""Persistence: PostgreSQL (records, configuration, audit) and Redis (live state, queue, limits)."""
