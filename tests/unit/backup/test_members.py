"""The members a volumes archive may hold (issue 28): the pure checker, on tars made here."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from dockyard.backup.archive import verify, write_archive
from dockyard.backup.members import check_members
from dockyard.backup.plan import Manifest
from dockyard.errors import BackupError

R = "dockyard-volumes"


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644,
          link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info, data


def folder(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.DIRTYPE, mode=mode)


def tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        for info, data in members:
            out.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def good() -> list[tuple[tarfile.TarInfo, bytes]]:
    return [folder(R), folder(f"{R}/data"), entry(f"{R}/data/a", data=b"one"), folder(f"{R}/data/sub", mode=0o2775),
            entry(f"{R}/data/sub/b", data=b"two" * 1000), entry(f"{R}/data/sub/up", tarfile.SYMTYPE, link="../a"),
            entry(f"{R}/data/sub/here", tarfile.SYMTYPE, link="./b"), entry(f"{R}/data/same", tarfile.LNKTYPE,
                                                                             link=f"{R}/data/a"),
            folder(f"{R}/logs"), entry(f"{R}/logs/x.log", data=b"line\n")]


def refused(data: bytes, volumes: tuple[str, ...] = ("data", "logs")) -> str:
    with pytest.raises(BackupError) as caught:
        check_members(io.BytesIO(data), volumes)
    return caught.value.message


def test_a_backup_as_dockyard_takes_it_passes_and_is_counted() -> None:
    assert check_members(io.BytesIO(tar(*good())), ["data", "logs"]) == 10
    # the Engine API's tar has the top folder; GNU tar's (host paths) starts at each volume's folder
    assert check_members(io.BytesIO(tar(*good()[1:])), ["data", "logs"]) == 9


@pytest.mark.parametrize(("member", "why"), [
    (entry(f"{R}/data/../../../etc/cron.d/x", data=b"*"), "climbs out with '..'"),
    (entry(f"{R}/data/sub/..", tarfile.DIRTYPE), "climbs out with '..'"),
    (entry("/etc/cron.d/x", data=b"*"), "is an absolute path"),
    (entry(f"{R}/data/./a2"), "is not a plain path"),
    (entry(f"{R}//data/a2"), "is not a plain path"),
    (entry(f"{R}/other/a"), "is outside the backup's folders (dockyard-volumes/data/, dockyard-volumes/logs/)"),
    (entry("elsewhere/a"), "is outside the backup's folders"),
    (entry(f"{R}/data/null", tarfile.CHRTYPE), "it is a device node (character 1,3)"),
    (entry(f"{R}/data/disk", tarfile.BLKTYPE), "it is a device node (block 1,3)"),
    (entry(f"{R}/data/pipe", tarfile.FIFOTYPE), "it is a FIFO"),
    (entry(f"{R}/data/x", b"V"), "it is a member of tar type b'V'"),
    (entry(f"{R}/data/sh", data=b"#!", mode=0o4755), "it has the setuid bit (mode 4755)"),
    (entry(f"{R}/data/sub2", tarfile.DIRTYPE, mode=0o4755), "it has the setuid bit"),
    (entry(f"{R}/data/sh", data=b"#!", mode=0o2755), "it has the setgid bit (mode 2755)"),
    (entry(f"{R}/data/root", tarfile.SYMTYPE, link="/"), "a symlink to the absolute path '/'"),
    (entry(f"{R}/data/sub/out", tarfile.SYMTYPE, link="../../x"), "climbs out of volume data"),
    (entry(f"{R}/data/sub/out", tarfile.SYMTYPE, link="b/../../../logs"), "climbs out of volume data"),
    (entry(f"{R}/data/h", tarfile.LNKTYPE, link="/etc/shadow"), "'/etc/shadow' is an absolute path"),
    (entry(f"{R}/data/h", tarfile.LNKTYPE, link=f"{R}/data/../../etc/shadow"), "climbs out with '..'"),
    (entry(f"{R}/data/h", tarfile.LNKTYPE, link=f"{R}/logs/x.log"), "not an earlier file of volume data"),
    (entry(f"{R}/data/h", tarfile.LNKTYPE, link=f"{R}/data/later"), "not an earlier file of volume data"),
    (entry(f"{R}/data/h", tarfile.LNKTYPE, link=f"{R}/data/sub"), "not an earlier file of volume data"),
    (entry(f"{R}/data/sub/up/passwd", data=b"x"), f"it lies under {R}/data/sub/up, which is not a folder"),
    (entry(f"{R}/data/a/b", data=b"x"), f"it lies under {R}/data/a, which is not a folder"),
    (entry(f"{R}/data/a", data=b"again"), "it appears twice"),
    (entry(f"{R}/data/sub", tarfile.SYMTYPE, link="a"), "it appears twice"),
])
def test_a_member_that_breaks_a_rule_is_refused_by_name(member: tuple[tarfile.TarInfo, bytes], why: str) -> None:
    message = refused(tar(*good(), member))
    assert message.startswith(f"member {member[0].name!r}: ") and why in message


def test_a_volume_folder_that_is_not_a_folder_or_is_missing_is_refused() -> None:
    assert "a volume's own folder is not a folder" in refused(tar(entry(f"{R}/data", tarfile.SYMTYPE, link="/")))
    assert "dockyard-volumes is not a folder" in refused(tar(entry(R, data=b"x")))
    assert refused(tar(*good()[:-2])) == "the archive holds no folder dockyard-volumes/logs for volume logs"


def test_a_tar_cut_short_or_damaged_is_refused_whole() -> None:
    whole = tar(*good())
    cut = whole.index(b"two" * 10) + 100  # in the middle of sub/b's data
    assert refused(whole[:cut]) == ("not a whole tar archive: unexpected end of data (in or right after member "
                                    f"'{R}/data/sub/b')")
    assert "not a whole tar archive" in refused(whole[:512 * 3 + 1])  # in the middle of a header
    one = tar(folder(R), folder(f"{R}/data"), folder(f"{R}/logs"))
    assert "ends without its end-of-archive block" in refused(one[:-1024 * 9])  # right after a member
    # a damaged header in the middle: tarfile would stop there, GNU tar skip it and unpack what follows
    broken = bytearray(tar(*good()))
    third = tarfile.open(fileobj=io.BytesIO(bytes(broken))).getmembers()[2].offset
    broken[third + 148:third + 156] = b"0000000\0"  # its checksum
    assert "a damaged header" in refused(bytes(broken))
    assert "not a whole tar archive" in refused(b"")
    assert "not a whole tar archive" in refused(b"not a tar at all" * 100)


def manifest_of(path: Path, raw: bytes, volumes: list[str]) -> Manifest:
    size, compressed, digest = write_archive([raw], path)
    return Manifest(id="20261203T020000Z-a1b2c3", app="shop", env="site", target="web/data", kind="volumes",
                    volumes=volumes, raw_size=size, size=compressed, sha256=digest)


def test_verify_refuses_a_hostile_archive_whose_checksum_matches(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.zst"
    manifest = manifest_of(archive, tar(*good(), entry(f"{R}/data/../x", data=b"x")), ["data", "logs"])
    with pytest.raises(BackupError) as caught:
        verify(archive, manifest)
    assert caught.value.message == ("backup 20261203T020000Z-a1b2c3 of shop/site web/data: member "
                                    "'dockyard-volumes/data/../x': 'dockyard-volumes/data/../x' climbs out with '..'; "
                                    "nothing was restored")
    assert caught.value.hint and "made or changed elsewhere" in caught.value.hint
    verify(tmp_path / "b", manifest_of(tmp_path / "b", tar(*good()), ["data", "logs"]))  # a good one passes


def test_a_wrong_checksum_is_said_before_what_the_members_are(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.zst"
    manifest = manifest_of(archive, tar(*good(), entry("/x", data=b"x")), ["data", "logs"])
    with pytest.raises(BackupError, match="its checksum does not match"):
        verify(archive, Manifest(**{**manifest.__dict__, "sha256": "0" * 64}))


def test_a_dump_is_not_read_as_a_tar(tmp_path: Path) -> None:
    archive = tmp_path / "a.dump.zst"
    size, compressed, digest = write_archive([b"REDIS0011" + bytes(100_000)], archive)
    verify(archive, Manifest(id="20261203T020000Z-a1b2c3", app="shop", env="site", target="db", kind="dump",
                             raw_size=size, size=compressed, sha256=digest))
