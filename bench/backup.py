"""Benchmark: a backup and a restore of a 1 GiB volume by Dockyard, against `tar | zstd` done by
hand on the same volume in the same run (issue 16; target: within 1.2x).

Dockyard's path (an engine on this host, as root): the volume's directory read by GNU tar,
compressed with zstd level 3 (all cores) into the backup folder with its SHA-256; a restore checks
the checksum, every byte and every tar member first, unpacks into a fresh staging volume with GNU
tar, exchanges the two volumes' directories and removes the staging one (the old data). The peer:
`tar -C MOUNTPOINT -cf - . | zstd -3 -T0` to a file and `zstd -dc | tar -xf -` back, reading the
volume's directory on the host directly. The volume holds half random bytes (incompressible) and
half text-like data, in 64 files.

    .venv/bin/python bench/backup.py [--mib 1024] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SPEC = """\
app: {app}
services:
  web: {{port: 8080}}
accessories:
  files:
    image: dockyard/busybox:1.35
    volumes: [{{name: data, path: /data}}]
environments:
  bench: {{engine: local}}
"""


def fill(directory: Path, mib: int) -> None:
    """Half random, half text-like (compressible), in 64 files."""
    per_file = mib * 1024 * 1024 // 64
    words = b" ".join(secrets.token_hex(4).encode() for _ in range(2000)) + b"\n"
    for n in range(64):
        with (directory / f"f{n:02d}.bin").open("wb") as fh:
            if n % 2:
                for _ in range(per_file // (1024 * 1024)):
                    fh.write(os.urandom(1024 * 1024))
            else:
                written = 0
                while written < per_file:
                    fh.write(words)
                    written += len(words)


def clocked(work: Callable[..., object], *args: object, **kwargs: object) -> float:
    """Seconds the call took, and whatever it wrote flushed to disk within them (as the peer's would be
    by the next sync): a fair share of the writeback."""
    os.sync()
    start = time.perf_counter()
    work(*args, **kwargs)
    os.sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-backup-"))
    os.environ["DOCKYARD_HOME"] = str(work / "home")
    os.environ["DOCKYARD_CONFIG_STORE"] = f"sqlite:///{work}/config.db"
    os.environ["DOCKYARD_SECRET_KEY_FILE"] = str(work / "secret.key")

    from dockyard.backup.service import Backups
    from dockyard.backup.stores import LocalStore
    from dockyard.config.service import open_config_service
    from dockyard.engine.client import connect
    from dockyard.engine.volumes import ensure_volume
    from dockyard.spec import parse_spec

    app = "bench" + secrets.token_hex(3)
    spec = parse_spec(SPEC.format(app=app))
    client = docker.from_env()
    engine = connect("local")
    try:
        volume = ensure_volume(engine, app, "bench", "files", "data")
        mountpoint = Path(client.volumes.get(volume).attrs["Mountpoint"])
        print(f"filling {volume} with {args.mib} MiB ...", flush=True)
        fill(mountpoint, args.mib)
        backups = Backups(spec, LocalStore(work / "store"), open_config_service(), lambda _line: None, by="bench")
        peer_dir = work / "peer"
        peer_dir.mkdir()
        print(f"{'round':>5} {'dockyard backup':>16} {'tar|zstd':>9} {'ratio':>6}   "
              f"{'dockyard restore':>17} {'zstd -d|tar':>12} {'ratio':>6}   {'size':>10} {'peer size':>10}")
        peer_file, target = peer_dir / "peer.tar.zst", peer_dir / "restored"
        target.mkdir()
        # a copy in the peer's folder, for its first restore to replace as ours does
        subprocess.run(f"tar -C {mountpoint} -cf - . | tar -C {target} -xf -", shell=True, check=True)
        for n in range(1, args.rounds + 1):
            # each timing starts with no dirty pages (sync) and includes its own writeback; the two
            # take turns going first
            peer_tar = f"tar -C {mountpoint} -cf - . | zstd -3 -T0 -q -f -o {peer_file}"
            # by hand, a restore also empties what is there (the last round's copy) before unpacking
            peer_untar = f"rm -rf {target} && mkdir {target} && zstd -dc -q {peer_file} | tar -C {target} -xf -"
            made = []
            for first in ((False, True) if n % 2 else (True, False)):
                if first:
                    peer_backup = clocked(subprocess.run, peer_tar, shell=True, check=True)
                else:
                    ours_backup = clocked(lambda out=made: out.append(backups.create("bench", "files")))
            for first in ((False, True) if n % 2 else (True, False)):
                if first:
                    peer_restore = clocked(subprocess.run, peer_untar, shell=True, check=True)
                else:
                    ours_restore = clocked(backups.restore, "bench", "files", made[0].id)
            mountpoint = Path(client.volumes.get(volume).attrs["Mountpoint"])
            assert sorted(p.name for p in mountpoint.iterdir()) == sorted(p.name for p in target.iterdir())
            print(f"{n:>5} {ours_backup:>15.2f}s {peer_backup:>8.2f}s {ours_backup / peer_backup:>5.2f}x   "
                  f"{ours_restore:>16.2f}s {peer_restore:>11.2f}s {ours_restore / peer_restore:>5.2f}x   "
                  f"{made[0].size / 2**20:>8.0f}Mi {peer_file.stat().st_size / 2**20:>8.0f}Mi", flush=True)
    finally:
        for container in client.containers.list(all=True, filters={"label": f"dockyard.app={app}"}):
            container.remove(force=True)
        for v in client.volumes.list(filters={"label": f"dockyard.app={app}"}):
            v.remove(force=True)
        engine.close()
        client.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
