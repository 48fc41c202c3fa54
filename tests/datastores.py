"""FROM scratch images of real data stores from this machine's Debian packages (issue 16): the
binary and every shared library it links copied into a build context, nothing else."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REDIS_DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
COPY --chown=65534:65534 data /data
USER 65534:65534
EXPOSE 6379
"""


def linked_libraries(binary: str) -> list[str]:
    """The files `ldd` says the binary loads (the dynamic loader included)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return sorted({m for m in re.findall(r"(/\S+)", out) if Path(m).exists()})


def copy_into(rootfs: Path, path: str) -> None:
    target = rootfs / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(path).resolve(), target)


def redis_context(dest: Path) -> Path:
    """A build context for a Redis image: redis-server, redis-cli (its health check), their
    libraries; data in /data, owned by nobody, the user it runs as."""
    rootfs = dest / "rootfs"
    binaries = [shutil.which("redis-server"), shutil.which("redis-cli")]
    if not all(binaries):
        raise RuntimeError("redis-server is not installed: bash scripts/setup.sh install --tests")
    for binary in binaries:
        assert binary is not None
        copy_into(rootfs, binary)
        for library in linked_libraries(binary):
            copy_into(rootfs, library)
    (rootfs / "tmp").mkdir(exist_ok=True)
    (dest / "data").mkdir(exist_ok=True)
    (dest / "data" / ".keep").write_text("")
    (dest / "Dockerfile").write_text(REDIS_DOCKERFILE)
    return dest
