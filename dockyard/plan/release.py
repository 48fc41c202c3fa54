"""Pure fingerprints: what makes a release, and what makes one container of it.

A release is the pair (image digest, config revision). Its id is derived from the content
(digest + resolved values + rendered files), so deploying the same pair twice is a no-op
and any drift shows up as a different config-hash label on the container.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def config_fingerprint(values: dict[str, str], files: dict[str, bytes]) -> str:
    """Hash of the resolved configuration (secrets included, hashed, never shown)."""
    return _digest({
        "values": values,
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in files.items()},
    })


def release_id(image_digest: str, config_fp: str) -> str:
    return f"{image_digest.split(':')[-1][:10]}-{config_fp[:6]}"


def replica_config_hash(release: str, service_fields: dict[str, Any]) -> str:
    """The container's config-hash label: the release plus the service's own settings."""
    return _digest({"release": release, "service": service_fields})[:16]
