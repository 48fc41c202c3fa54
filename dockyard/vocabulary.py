"""One vocabulary from the CLI to the JSON (issue 27): the names every `--json` output and API
answer uses for the same things, so a script reads one dialect.

- `release_id`: a release (image digest + configuration); `commit_sha`: the full commit of its image;
- `created_at` (and every other moment): RFC 3339 in UTC, `2026-12-06T14:03:37Z`;
- `actor`: who did it (a user, a token's name, `pipeline run N`);
- absent is `null`, never `""`.

The JSON Schema of each command's output is in docs/json/, and tests validate the outputs against it.
"""

from __future__ import annotations

import calendar
import time


def rfc3339(stamp: float | None, precise: bool = False) -> str | None:
    """Seconds since the epoch -> '2026-12-06T14:03:37Z' (UTC), with milliseconds when precise
    ('2026-12-06T14:03:37.125Z': an event's moment, where seconds apart matter); None stays None."""
    if stamp is None:
        return None
    if not precise:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    millis = round(stamp * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"


def epoch(moment: str) -> float:
    """'2026-12-06T14:03:37Z' or '...37.125Z' -> seconds since the epoch (the inverse of rfc3339)."""
    whole, _, fraction = moment.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + (float(f"0.{fraction}") if fraction else 0.0)


def absent(value: str | None) -> str | None:
    """'' is not a value: it is absent (null)."""
    return value or None


def local_time(moment: str | None) -> str:
    """'2026-12-06T14:03:37Z' -> '2026-12-06 15:03:37' in the local zone, for a table a person reads."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch(moment))) if moment else "-"


def preview_name(number: int) -> str:
    """The environment of pull request N's preview (issue 33): pr-N."""
    return f"pr-{number}"


def preview_number(env: str) -> int | None:
    """N for an environment named pr-N, else None."""
    head, _, digits = env.partition("-")
    if head != "pr" or not digits.isdigit() or not digits.isascii() or digits.startswith("0") or len(digits) > 9:
        return None
    return int(digits)
