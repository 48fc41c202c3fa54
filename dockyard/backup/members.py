"""What a volumes archive may hold (issue 28): every member is checked before a restore touches
anything, and one that breaks a rule refuses the whole archive, naming it.

GNU tar as root and the engine's own unpacking recreate whatever an archive says: device nodes,
setuid programs, names that climb out with '..'. A backup Dockyard took holds plain files,
folders and links under dockyard-volumes/VOLUME/ and nothing else, so an archive that holds more
was made or changed by someone else, even when its checksum matches its manifest.

The rules:
- every name is a plain relative path (no leading '/', no '..', no empty or '.' part), under
  dockyard-volumes/VOLUME/ of one of the backup's volumes, and appears once;
- only files, folders, symlinks and hard links: no device nodes, FIFOs or other types;
- no setuid bit, no setgid bit on anything but a folder (a setgid folder only hands its group to
  the files made in it, as in images that ship /var/run/postgresql 2777; it grants no right);
- a symlink's target is relative and stays inside its volume (read from the link's folder,
  lexically): an absolute or climbing target is refused, not rewritten;
- a hard link names an earlier file of the same volume;
- no member lies under an earlier symlink or file: nothing is written through a link.

Pure: it reads a tar stream and nothing else.
"""

from __future__ import annotations

import stat
import tarfile
from collections.abc import Iterable
from typing import Any, Protocol, Self

from dockyard.errors import BackupError

ROOT = "dockyard-volumes"  # every member's first part (engine/backups.py MOUNT_ROOT, without its '/')
READ = 1024 * 1024
# tarfile's header errors, which its stubs do not declare
_END: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]
_NOTHING: type[Exception] = tarfile.EmptyHeaderError  # type: ignore[attr-defined]


class _Strict(tarfile.TarInfo):
    """A header that is neither a member nor the end-of-archive block is an error. tarfile would end
    the archive there, while GNU tar skips to the next header and goes on unpacking: members past
    it would be unpacked unchecked."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except _END:
            raise  # a block of zeros: the end
        except _NOTHING as exc:
            raise tarfile.ReadError("the archive ends without its end-of-archive block: it was cut short") from exc
        except tarfile.HeaderError as exc:
            raise tarfile.ReadError(f"a damaged header at byte {tarfile_.offset} ({exc})") from exc


class MemberCheck:
    """The rules above, one member at a time, in archive order."""

    def __init__(self, volumes: Iterable[str]) -> None:
        self.volumes = set(volumes)
        self.seen: dict[str, str] = {}  # name -> "dir", "file" or "link": what each earlier member made

    def check(self, info: tarfile.TarInfo) -> None:
        name = info.name
        parts = self._parts(name, name)
        if info.mode & stat.S_ISUID:
            raise self._refuse(name, f"it has the setuid bit (mode {info.mode:04o})")
        if info.mode & stat.S_ISGID and not info.isdir():
            raise self._refuse(name, f"it has the setgid bit (mode {info.mode:04o})")
        if len(parts) <= 2 and not info.isdir():
            raise self._refuse(name, f"{ROOT} is not a folder" if len(parts) == 1 else
                               "a volume's own folder is not a folder")
        for depth in range(2, len(parts)):
            above = "/".join(parts[:depth])
            if self.seen.get(above, "dir") != "dir":
                raise self._refuse(name, f"it lies under {above}, which is not a folder: it would be written "
                                         "through a link")
        if info.isdir():
            return self._saw(name, "dir")
        if info.isreg():
            return self._saw(name, "file")
        if info.issym():
            self._symlink(name, parts, info.linkname)
            return self._saw(name, "link")
        if info.islnk():
            target = self._parts(name, info.linkname)
            if target[:2] != parts[:2] or self.seen.get(info.linkname) != "file":
                raise self._refuse(name, f"a hard link to {info.linkname}, which is not an earlier file of "
                                         f"volume {parts[1]}")
            return self._saw(name, "file")
        raise self._refuse(name, f"it is {_kind(info)}: a backup holds files, folders and links only")

    def finish(self) -> None:
        """After the last member: every volume of the backup has its folder."""
        missing = sorted(v for v in self.volumes if f"{ROOT}/{v}" not in self.seen)
        if missing:
            raise BackupError(f"the archive holds no folder {ROOT}/{missing[0]} for volume {missing[0]}")

    def _parts(self, member: str, name: str) -> list[str]:
        """The parts of a member's name (or of a hard link's target), once they follow the rules."""
        if name.startswith("/"):
            raise self._refuse(member, f"{name!r} is an absolute path")
        parts = name.split("/")
        if ".." in parts:
            raise self._refuse(member, f"{name!r} climbs out with '..'")
        if "" in parts or "." in parts:
            raise self._refuse(member, f"{name!r} is not a plain path (an empty or '.' part)")
        if parts[0] != ROOT or (len(parts) > 1 and parts[1] not in self.volumes):
            folders = ", ".join(f"{ROOT}/{v}/" for v in sorted(self.volumes))
            raise self._refuse(member, f"{name!r} is outside the backup's folders ({folders})")
        return parts

    def _symlink(self, name: str, parts: list[str], target: str) -> None:
        if target.startswith("/"):
            raise self._refuse(name, f"a symlink to the absolute path {target!r}: it would leave the volume")
        inside = parts[2:-1]  # the link's folder, inside its volume
        for part in target.split("/"):
            if part == "..":
                if not inside:
                    raise self._refuse(name, f"a symlink to {target!r}, which climbs out of volume {parts[1]}")
                inside.pop()
            elif part not in ("", "."):
                inside.append(part)

    def _saw(self, name: str, made: str) -> None:
        if name in self.seen:
            raise self._refuse(name, "it appears twice")
        self.seen[name] = made

    @staticmethod
    def _refuse(member: str, why: str) -> BackupError:
        return BackupError(f"member {member!r}: {why}")


def _kind(info: tarfile.TarInfo) -> str:
    if info.ischr() or info.isblk():
        return f"a device node ({'character' if info.ischr() else 'block'} {info.devmajor},{info.devminor})"
    if info.isfifo():
        return "a FIFO"
    return f"a member of tar type {info.type!r}"


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def check_members(stream: Readable, volumes: Iterable[str]) -> int:
    """Read the tar stream to its end-of-archive block and check every member; how many there were.
    Raises BackupError naming the first member that breaks a rule, or what is wrong with the tar."""
    rules = MemberCheck(volumes)
    count, last = 0, None
    try:
        options: dict[str, Any] = {"fileobj": stream, "mode": "r|", "bufsize": READ, "tarinfo": _Strict}
        with tarfile.open(**options) as tar:
            while (info := tar.next()) is not None:
                rules.check(info)
                count, last = count + 1, info.name
                tar.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every member it read
    except tarfile.TarError as exc:
        where = f" (in or right after member {last!r})" if last else ""
        raise BackupError(f"not a whole tar archive: {exc}{where}") from exc
    rules.finish()
    return count
