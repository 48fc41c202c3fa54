"""One vocabulary from the CLI to the JSON (issue 27): the names every `--json` output and API
answer uses for the same things, so a script reads one dialect.

- `release_id`: a release (image digest + configuration); `commit_sha`: the full commit of its image;
- `created_at` (and every other moment): RFC 3339 in UTC, `2026-12-06T14:03:37Z`;
- `actor`: who did it (a user, a token's name, `pipeline run N`);
- absent is `null`, never `""`.

The JSON Schema of each command's output is in docs/json/, and tests validate the outputs against it.
"""

from __future__ import annotations

import time


def rfc3339(stamp: float | None) -> str | None:
    """Seconds since the epoch -> '2026-12-06T14:03:37Z' (UTC); None stays None."""
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def absent(value: str | None) -> str | None:
    """'' is not a value: it is absent (null)."""
    return value or None
