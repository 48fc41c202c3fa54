from __future__ import annotations

import io
import tarfile
from pathlib import Path

from dockyard.deploy.executor import files_archive
from dockyard.engine.secretfiles import fs_type

MOUNTS = """\
overlay / overlay rw,relatime 0 0
proc /proc proc rw 0 0
tmpfs /run tmpfs rw,nosuid 0 0
/dev/vda /run/data ext4 rw 0 0
tmpfs /run/dockyard/secrets tmpfs rw,mode=711 0 0
"""


def test_fs_type_picks_the_deepest_mount():
    assert fs_type(MOUNTS, Path("/run/dockyard/secrets")) == "tmpfs"
    assert fs_type(MOUNTS, Path("/run/dockyard/secrets/abc")) == "tmpfs"
    assert fs_type(MOUNTS, Path("/run/data/x")) == "ext4"
    assert fs_type(MOUNTS, Path("/var/lib")) == "overlay"
    assert fs_type(MOUNTS, Path("/runx")) == "overlay"


def test_files_archive_has_parents_and_contents():
    data = files_archive({"/etc/app/app.conf": b"a=1\n", "/etc/app/sub/b.conf": b"b"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        assert names == ["etc", "etc/app", "etc/app/app.conf", "etc/app/sub", "etc/app/sub/b.conf"]
        assert tar.extractfile("etc/app/app.conf").read() == b"a=1\n"
        assert tar.getmember("etc/app/app.conf").mode == 0o644
