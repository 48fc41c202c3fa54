"""Swapping restored data into a volume (issue 28).

A restore never writes into the live volume first: it unpacks (or runs the accessory's restore
command) into a fresh staging volume, and only once that succeeded are the two swapped. Docker
cannot rename a volume, and containers find theirs by name, so what is swapped is the data:

- on this host (Dockyard as root beside a local engine, volumes of the local driver on one file
  system): the two volumes' directories are exchanged by one renameat2(RENAME_EXCHANGE). At every
  instant the live volume's directory holds all of the old data or all of the new; the staging
  volume, holding the old data after the exchange, is removed by the caller;
- through the Engine API (any engine): a helper container, a static busybox imported as an image
  (pulled from nowhere), copies the staged files into .dockyard-restore-ID/ of the live volume,
  then moves the live entries into .dockyard-old-ID/ and the staged ones in, by renames inside the
  volume. A step that fails moves everything back (`swap`); a volume swapped before a later one
  failed is put back (`undo`); the old entries are deleted only once every volume is swapped
  (`commit`). The script runs to its end in the container even if Dockyard stops meanwhile.
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import struct
import tarfile
from pathlib import Path

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.api import Client, DockerError
from dockyard.engine.backups import run_once
from dockyard.engine.failures import engine_error
from dockyard.errors import EngineError

BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static: one file, no loader, runs in an image of its own
HELPER_IMAGE = "dockyard/volume-helper:1"
SCRIPT = "/dockyard-swap.sh"

# Run by the helper's busybox sh: $1 = swap | undo | commit, $2 = the restore's id; the live volume
# at /live, its restored copy at /new (LIVE and NEW say otherwise, for its tests). Every failure says
# what it left, on stderr: the caller's error.
SWAP_SCRIPT = r"""set -u -o pipefail
step=$1 id=$2 live=${LIVE:-/live} new=${NEW:-/new}
stage=$live/.dockyard-restore-$id
old=$live/.dockyard-old-$id

# every entry of folder $1 but the two work folders into folder $2 (renames: one file system)
move() {
  for entry in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    [ "$entry" = "$stage" ] || [ "$entry" = "$old" ] || mv "$entry" "$2/" || return 1
  done
}
# folder $2 takes the owner and mode of folder $1
attributes() { chown "$(stat -c %u:%g "$1")" "$2" && chmod "$(stat -c %a "$1")" "$2"; }
# once every old entry is aside in $old: the new ones out, the old ones and the folder's owner back
back() {
  move "$live" "$stage" && move "$old" "$live" && attributes "$old" "$live" || return 1
  rm -rf "$stage"; rmdir "$old"; return 0
}

case $step in
swap)
  mkdir "$stage" || exit 1
  mkdir "$old" || { rmdir "$stage"; exit 1; }
  if ! { (cd "$new" && tar -cf - .) | tar -xf - --numeric-owner -C "$stage"; }; then
    echo "copying the restored files into the volume failed; its own files were not touched" >&2
    rm -rf "$stage"; rmdir "$old"; exit 1
  fi
  if ! { attributes "$live" "$old" && move "$live" "$old"; }; then
    rm -rf "$stage"
    if move "$old" "$live" && rmdir "$old"; then echo "moving the volume's files aside failed; they were moved back" >&2
    else echo "moving the volume's files aside failed, and so did moving them back: some are in $old" >&2; fi
    exit 1
  fi
  if move "$stage" "$live" && attributes "$new" "$live" && rmdir "$stage"; then exit 0; fi
  if back; then echo "moving the restored files in failed; the volume's own files were moved back" >&2
  else echo "moving the restored files in failed, and so did moving its own back: they are in $old" >&2; fi
  exit 1;;
undo)
  [ ! -d "$old" ] || back || { echo "putting the old files back failed: they are in $old" >&2; exit 1; };;
commit)
  rm -rf "$old";;
*)
  echo "unknown step $step" >&2; exit 2;;
esac
"""

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def staging_volume(client: Client, app: str, env: str, live: str, restore_id: str) -> str:
    """A new, empty volume beside `live` for a restore to fill ('.' is in no volume name of an app)."""
    name = f"{live}.restore-{restore_id}"
    try:
        client.volumes.create(name=name, labels={L.MANAGED: "1", L.APP: app, L.ENV: env,
                                                        L.RESTORE: restore_id})
    except DockerError as exc:
        raise engine_error(f"creating volume {name} to restore into", exc) from exc
    return name


# ---- on this host


def _exchange(a: Path, b: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = libc.renameat2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))


def exchange_on_host(pairs: list[tuple[Path, Path]]) -> bool:
    """Exchange each (live, staged) pair of directories, atomically each; one that fails puts the
    ones before it back. False, with nothing changed, where this file system cannot exchange (the
    caller goes through the engine instead)."""
    try:
        if any(os.stat(live).st_dev != os.stat(staged).st_dev for live, staged in pairs):
            return False
    except OSError as exc:
        raise EngineError(f"reading the volumes' directories: {exc}; nothing was swapped") from exc
    done: list[tuple[Path, Path]] = []
    for live, staged in pairs:
        try:
            _exchange(live, staged)
        except AttributeError:  # a C library without renameat2 (glibc < 2.28)
            return False
        except OSError as exc:
            if not done and exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EXDEV):
                return False
            for back_live, back_staged in reversed(done):
                try:
                    _exchange(back_live, back_staged)
                except OSError as undo:
                    raise EngineError(f"swapping the restored data into {live} failed ({exc}), and putting "
                                      f"{back_live} back failed too ({undo}): its old data is in "
                                      f"{back_staged}") from undo
            raise EngineError(f"swapping the restored data into {live} failed ({exc}); every volume "
                              "holds its old data") from exc
        done.append((live, staged))
    return True


# ---- through the Engine API


def _is_static(elf: bytes) -> bool:
    """A 64-bit ELF executable without a PT_INTERP program header: it needs no loader."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    order = "<" if elf[5] == 1 else ">"
    (phoff,) = struct.unpack_from(order + "Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from(order + "HH", elf, 0x36)
    return all(struct.unpack_from(order + "I", elf, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def _tar(files: dict[str, tuple[bytes, int]], links: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def helper_image(client: Client, engine_name: str) -> str:
    """The helper image on the engine (`engine_name` in messages): this host's static busybox and the
    applets the script calls."""
    try:
        try:
            client.images.get(HELPER_IMAGE)
            return HELPER_IMAGE
        except docker.errors.ImageNotFound:
            pass
        busybox = BUSYBOX.read_bytes() if BUSYBOX.is_file() else b""
        if not _is_static(busybox):
            raise EngineError(f"a restore through the Engine API runs a static busybox on engine {engine_name!r}, "
                              f"and {BUSYBOX} is missing or not static",
                              hint="apt-get install busybox-static")
        applets = ["sh", "mv", "rm", "mkdir", "rmdir", "stat", "chown", "chmod", "tar"]
        image = _tar({"bin/busybox": (busybox, 0o755)}, {f"bin/{a}": "busybox" for a in applets})
        repository, tag = HELPER_IMAGE.split(":")
        client.api.import_image_from_data(image, repository=repository, tag=tag)
    except DockerError as exc:
        raise engine_error(f"making the image {HELPER_IMAGE} that swaps restored data in", exc) from exc
    return HELPER_IMAGE


def swap_in_engine(client: Client, engine_name: str, step: str, live: str, staged: str, restore_id: str,
                   labels: dict[str, str], timeout: float) -> None:
    """One step of the script (swap, undo or commit) in a helper container with `live` and `staged`
    mounted; a failure raises EngineError with what the script said it left."""
    script = io.BytesIO(_tar({SCRIPT.lstrip("/"): (SWAP_SCRIPT.encode(), 0o644)}, {}))
    run_once(client, helper_image(client, engine_name), ["/bin/sh", SCRIPT, step, restore_id],
             {live: "/live", staged: "/new"}, "0:0", script, {}, labels, timeout)
