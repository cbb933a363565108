"""File descriptors: as many as the system grants, and most of them kept for calls.

Every call holds a few sockets (AudioSocket or RTP, the provider connections, PostgreSQL and
Redis are shared); an HTTP flood must run out of its own allowance first.
"""

from __future__ import annotations

import resource

import structlog

log = structlog.get_logger(__name__)

# The HTTP listener may hold at most this share of the process's descriptors.
HTTP_SHARE_OF_DESCRIPTORS = 4


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open files limit", soft=soft, hard=hard, error=str(exc))
        return soft
    return hard


def http_connection_cap(requested: int) -> int:
    """`requested`, lowered so HTTP keeps well below the descriptors the process has."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    allowance = max(1, soft // HTTP_SHARE_OF_DESCRIPTORS)
    if requested > allowance:
        log.warning(
            "HTTP connection cap lowered to keep descriptors for calls",
            requested=requested,
            cap=allowance,
            open_files_limit=soft,
        )
    return min(requested, allowance)
