"""Backups on the real engine (issue 16): an accessory's dump and a service's volume, to a local
folder and to an S3 bucket (moto's server); a restore refused while the data is in use, and for a
damaged archive or a wrong checksum before anything is overwritten; retention."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.apps import TestApp
from tests.conftest import remove_app_resources, run_cli
from tests.datastores import accessory, get, ok, put, redis_app, web_port
from tests.json_schemas import check
from tests.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def app(tmp_path: Path, docker_client: docker.DockerClient, dockyard_env: Path) -> Iterator[TestApp]:
    made = redis_app(tmp_path)
    yield made
    remove_app_resources(docker_client, made.name)


def fails(*args: str, cwd: Path) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode != 0, f"dockyard {' '.join(args)} should have failed:\n{result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


def backups(app: TestApp) -> list[dict]:
    return json.loads(ok("backup", "ls", "site", "db", "--json", cwd=app.path))


def start_app(app: TestApp, docker_client: docker.DockerClient, keys: int) -> int:
    ok("config", "set", "site", "GREETING=hello", "DB_TOKEN=x", cwd=app.path)
    ok("accessory", "boot", "site", "db", cwd=app.path)
    ok("build", cwd=app.path)
    ok("deploy", "site", cwd=app.path)
    port = web_port(docker_client, app)
    for n in range(keys):
        assert put(port, f"k{n}", f"v{n}") == "+OK"
    return port


def test_a_dump_restored_after_the_volume_is_gone_and_bad_archives_refused(app: TestApp, docker_client,
                                                                            dockyard_env: Path) -> None:
    port = start_app(app, docker_client, 100)
    made = check("backup.schema.json", json.loads(ok("backup", "create", "site", "db", "--json", cwd=app.path)))
    [first] = check("backup.schema.json", backups(app))
    assert made == first
    assert (first["kind"], first["actor"], first["target"]) == ("dump", "tester", "db")
    archive = dockyard_env / "backups" / app.name / "site" / "db" / f"{first['backup_id']}.dump.zst"
    assert archive.stat().st_size == first["size"] and oct(archive.stat().st_mode & 0o777) == "0o600"

    # a running accessory is refused: nothing is touched
    assert "runs: a restore replaces its data, so stop it first" in fails(
        "backup", "restore", "site", "db", first["backup_id"], "--yes", cwd=app.path)
    assert put(port, "after", "backup") == "+OK"

    stopped = json.loads(ok("accessory", "stop", "site", "db", "--json", cwd=app.path))
    assert check("accessory.schema.json", stopped)["stopped"] is True
    # one changed byte: the checksum refuses it, the data is as it was
    good = archive.read_bytes()
    archive.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
    assert "its checksum does not match" in fails("backup", "restore", "site", "db", first["backup_id"], "--yes",
                                                  cwd=app.path)
    # a manifest whose checksum was made to fit a damaged archive: zstd's own check refuses it
    manifest = archive.with_name(f"{first['backup_id']}.json")
    import hashlib

    fields = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**fields, "sha256": hashlib.sha256(archive.read_bytes()).hexdigest()}))
    assert "the archive is damaged" in fails("backup", "restore", "site", "db", first["backup_id"], "--yes",
                                             cwd=app.path)
    ok("accessory", "boot", "site", "db", cwd=app.path)
    assert get(port, "after") == "backup" and get(port, "k5") == "v5"  # untouched by the refused restores
    archive.write_bytes(good)
    manifest.write_text(json.dumps(fields))

    # the volume dropped with its data, then restored from the dump: every key, none of the later
    ok("accessory", "stop", "site", "db", cwd=app.path)
    check("accessory.schema.json", json.loads(ok("accessory", "remove", "site", "db", "--purge", "--yes", "--json",
                                                 cwd=app.path)))
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"dockyard_{app.name}_site_db_data")
    check("backup-restore.schema.json", json.loads(ok("backup", "restore", "site", "db", first["backup_id"], "--yes",
                                                      "--json", cwd=app.path)))
    booted = check("accessory.schema.json", json.loads(ok("accessory", "boot", "site", "db", "--json", cwd=app.path)))
    assert (booted["accessory"], booted["state"], booted["health"]) == ("db", "running", "healthy")
    lines = check("accessory-logs.schema.json", json.loads(ok("accessory", "logs", "site", "db", "-n", "5", "--json",
                                                              cwd=app.path)))
    assert 0 < len(lines) <= 5 and lines[0]["time"] >= lines[-1]["time"]  # newest first
    assert [get(port, f"k{n}") for n in range(100)] == [f"v{n}" for n in range(100)]
    assert get(port, "after") == ""


def test_a_service_volume_copied_with_its_writer_paused_and_restored_once_unused(
        tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient) -> None:
    from tests.integration.volumes.test_volumes import volume_app

    app = volume_app(tmp_path)
    try:
        ok("build", cwd=app.path)
        ok("config", "set", "site", "GREETING=one", cwd=app.path)
        ok("deploy", "site", cwd=app.path)
        port = web_port(docker_client, app)
        for n in range(30):
            httpx.get(f"http://127.0.0.1:{port}/cgi-bin/records?add={n}", timeout=5)
        ok("backup", "create", "site", "web/data", cwd=app.path)
        [made] = json.loads(ok("backup", "ls", "site", "web/data", "--json", cwd=app.path))
        assert (made["kind"], made["volumes"]) == ("volumes", ["data"])
        web = docker_client.containers.list(filters={"label": [f"dockyard.app={app.name}", "dockyard.service=web"]})
        assert web[0].status == "running"  # thawed after the copy
        httpx.get(f"http://127.0.0.1:{port}/cgi-bin/records?add=later", timeout=5)

        assert "is used by" in fails("backup", "restore", "site", "web/data", made["backup_id"], "--yes", cwd=app.path)
        ok("scale", "site", "web", "0", cwd=app.path)
        ok("backup", "restore", "site", "web/data", made["backup_id"], "--yes", cwd=app.path)
        ok("scale", "site", "web", "1", cwd=app.path)
        port = web_port(docker_client, app)
        records = httpx.get(f"http://127.0.0.1:{port}/cgi-bin/records", timeout=5).text.split()
        assert records == [str(n) for n in range(30)]
    finally:
        remove_app_resources(docker_client, app.name)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, a bucket in it, and Dockyard pointed at it."""
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for key, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                           ("AWS_DEFAULT_REGION", "us-east-1")):
            monkeypatch.setenv(key, value)
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="backups")
        monkeypatch.setenv("DOCKYARD_BACKUP_STORE", "s3://backups/site-a")
        monkeypatch.setenv("DOCKYARD_BACKUP_S3_ENDPOINT", endpoint)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_scheduled_backups_in_an_s3_bucket_with_retention_audited_and_an_unreachable_bucket(
        app: TestApp, docker_client, s3: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from dockyard import settings
    from dockyard.backup.schedule import ACTOR, Scheduler
    from dockyard.backup.stores import open_store
    from dockyard.config.service import open_config_service
    from dockyard.state.audit import AuditLog
    from dockyard.state.db import StateDB

    app.write("dockyard.yml", app.spec_file.read_text().replace("      keep: {last: 2", "      every: 1h\n"
                                                                                      "      keep: {last: 2"))
    app.commit("a backup every hour")
    port = start_app(app, docker_client, 50)
    ok("backup", "create", "site", "db", cwd=app.path)  # by hand, into the bucket
    [made] = backups(app)
    keys = sorted(o["Key"] for o in boto3.client("s3", endpoint_url=s3).list_objects_v2(Bucket="backups")["Contents"])
    assert keys == [f"site-a/{app.name}/site/db/{made['backup_id']}.{suffix}" for suffix in ("dump.zst", "json")]
    ok("accessory", "stop", "site", "db", cwd=app.path)
    ok("backup", "restore", "site", "db", made["backup_id"], "--yes", cwd=app.path)
    ok("accessory", "boot", "site", "db", cwd=app.path)
    assert get(port, "k49") == "v49"

    # the server's loop: due an hour after the newest, then retention (keep: last 2), each in the audit log
    scheduled = check("backup-schedule.schema.json", json.loads(ok("backup", "schedule", "--json", cwd=app.path)))
    assert {"env": "site", "target": "db", "every_seconds": 3600.0} in scheduled["backups"]
    db = StateDB()
    try:
        scheduler = Scheduler(db, lambda: open_store(settings.backup_settings()), open_config_service,
                              report=lambda _line: None)
        now = time.time()
        assert scheduler.run_once(now + 3000) == []  # the newest is not an hour old yet
        assert [line.split()[:2] for line in scheduler.run_once(now + 3700)] == [["scheduled", "backup"]]
        scheduler.run_once(now + 7400)
        kept = [b["backup_id"] for b in backups(app)]
        assert len(kept) == 2 and made["backup_id"] not in kept  # three, keep 2
        rows = [r for r in AuditLog(db).rows(target=f"{app.name}/site/db") if r.actor == ACTOR]
        assert [r.action for r in rows] == ["backup prune", "backup create", "backup create"]
        assert all(r.source == "schedule" and r.outcome == "ok" for r in rows)
        pruned = check("backup-prune.schema.json", json.loads(ok("backup", "prune", "site", "db", "--json",
                                                                 cwd=app.path)))
        assert pruned["deleted"] == []  # the scheduler's pass already kept only the last 2
        ok("backup", "schedule", "--off", cwd=app.path)
        assert scheduler.specs() == []
    finally:
        db.close()

    monkeypatch.setenv("DOCKYARD_BACKUP_S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    error = fails("backup", "create", "site", "db", cwd=app.path)
    assert "cannot reach bucket backups at http://127.0.0.1:" in error
    assert accessory(docker_client, app).status == "running"  # nothing was paused or dumped


def test_volumes_round_trip_through_the_engine_api_as_for_a_remote_engine(tmp_path: Path, dockyard_env: Path,
                                                                          docker_client) -> None:
    """The path a remote engine takes (a created container's get_archive/put_archive): the files,
    their owner and mode, and the volume's own owner come back as they were."""
    import secrets

    from dockyard.backup.service import Backups
    from dockyard.backup.stores import LocalStore
    from dockyard.config.service import open_config_service
    from dockyard.spec import parse_spec

    app = "t" + secrets.token_hex(4)
    spec = parse_spec(f"app: {app}\nservices:\n  web:\n    port: 8080\n    volumes: [{{name: data, path: /data}}]\n"
                      "environments:\n  site: {engine: local}\n")
    volume = docker_client.volumes.create(f"dockyard_{app}_site_web_data", labels={
        "dockyard.managed": "1", "dockyard.app": app, "dockyard.env": "site", "dockyard.service": "web",
        "dockyard.volume": "data"})
    try:
        docker_client.containers.run("dockyard/busybox:1.35", ["sh", "-c", "mkdir /data/sub && echo one > /data/a && "
                                     "echo two > /data/sub/b && chown -R 65534:65534 /data && chmod 640 /data/a"],
                                     volumes={volume.name: {"bind": "/data", "mode": "rw"}}, remove=True,
                                     labels={"dockyard.app": app})
        backups = Backups(spec, LocalStore(tmp_path / "store"), open_config_service(), lambda _l: None, by="t",
                          host_paths=False)
        made = backups.create("site", "web/data")
        docker_client.containers.run("dockyard/busybox:1.35", ["sh", "-c", "rm -rf /data/* && echo other > /data/c"],
                                     volumes={volume.name: {"bind": "/data", "mode": "rw"}}, remove=True,
                                     labels={"dockyard.app": app})
        backups.restore("site", "web/data", made.id)
        listing = docker_client.containers.run(
            "dockyard/busybox:1.35", ["sh", "-c", "cd /data && ls -lnR . | grep -v total && cat a sub/b && "
                                                  "ls -lnd /data"],
            volumes={volume.name: {"bind": "/data", "mode": "ro"}}, remove=True,
            labels={"dockyard.app": app}).decode()
        assert "one\ntwo\n" in listing and " c\n" not in listing
        assert "-rw-r-----    1 65534    65534" in listing  # a's owner and mode
        assert listing.rstrip().splitlines()[-1].split()[2:4] == ["65534", "65534"]  # the volume's own owner
    finally:
        remove_app_resources(docker_client, app)


# ---- restores verify, then swap (issue 28)

def forge(archive: Path, members: bytes) -> None:
    """Replace a backup's archive with `members` (a tar), its manifest's checksum and sizes made to fit:
    what someone who can write the store can do."""
    from dockyard.backup.archive import write_archive

    raw, size, digest = write_archive([members], archive)
    manifest = archive.with_name(archive.name.split(".")[0] + ".json")
    fields = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**fields, "sha256": digest, "size": size, "raw_size": raw}))


def tar_of(*members: tuple[str, bytes | str, dict]) -> bytes:
    """A tar of (name, file content or a type's name, attributes) in the order given."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as out:
        for name, content, attrs in members:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid = attrs.get("mode", 0o644), 65534, 65534
            for key, value in attrs.items():
                setattr(info, key, value)
            data = content if isinstance(content, bytes) else b""
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


DIR = {"type": b"5", "mode": 0o755}
GOOD = [("dockyard-volumes/data", b"", DIR), ("dockyard-volumes/data/a", b"forged\n", {}),
        ("dockyard-volumes/data/big", b"z" * 300_000, {})]


def volume_files(client: docker.DockerClient, volume: str, app: str) -> str:
    return client.containers.run("dockyard/busybox:1.35", ["sh", "-c", "cd /data && find . | sort && cat a sub/b"],
                                 volumes={volume: {"bind": "/data", "mode": "ro"}}, remove=True,
                                 labels={"dockyard.app": app}).decode()


def staging_volumes(client: docker.DockerClient, app: str) -> list[str]:
    return [v.name for v in client.volumes.list(filters={"label": [f"dockyard.app={app}", "dockyard.restore"]})]


def test_hostile_archives_whose_checksum_matches_are_refused_and_the_volume_is_untouched(
        tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient) -> None:
    from tests.integration.volumes.test_volumes import volume_app

    app = volume_app(tmp_path)
    volume = f"dockyard_{app.name}_site_web_data"
    try:
        docker_client.volumes.create(volume, labels={"dockyard.managed": "1", "dockyard.app": app.name,
                                                     "dockyard.env": "site", "dockyard.service": "web",
                                                     "dockyard.volume": "data"})
        docker_client.containers.run("dockyard/busybox:1.35", ["sh", "-c", "mkdir /data/sub && echo one > /data/a && "
                                     "echo two > /data/sub/b && chown -R 65534:65534 /data"],
                                     volumes={volume: {"bind": "/data", "mode": "rw"}}, remove=True,
                                     labels={"dockyard.app": app.name})
        made = json.loads(ok("backup", "create", "site", "web/data", "--json", cwd=app.path))
        archive = dockyard_env / "backups" / app.name / "site" / "web.data" / f"{made['backup_id']}.tar.zst"
        good = archive.read_bytes(), archive.with_name(f"{made['backup_id']}.json").read_text()
        before = volume_files(docker_client, volume, app.name)
        assert before == ".\n./a\n./sub\n./sub/b\none\ntwo\n"

        attacks = [  # (members after a few good ones, what the refusal says)
            ([("dockyard-volumes/data/../../../../etc/cron.d/x", b"* * * * * root sh\n", {})],
             "member 'dockyard-volumes/data/../../../../etc/cron.d/x': 'dockyard-volumes/data/../../../../etc/"
             "cron.d/x' climbs out with '..'"),
            ([("/etc/cron.d/x", b"* * * * * root sh\n", {})], "member '/etc/cron.d/x': '/etc/cron.d/x' is an "
                                                                "absolute path"),
            ([("dockyard-volumes/data/null", b"", {"type": b"3", "devmajor": 1, "devminor": 3})],
             "member 'dockyard-volumes/data/null': it is a device node (character 1,3)"),
            ([("dockyard-volumes/data/sh", b"#!/bin/sh\n", {"mode": 0o4755})],
             "member 'dockyard-volumes/data/sh': it has the setuid bit (mode 4755)"),
            ([("dockyard-volumes/data/shg", b"#!/bin/sh\n", {"mode": 0o2755})],
             "member 'dockyard-volumes/data/shg': it has the setgid bit (mode 2755)"),
            ([("dockyard-volumes/other/x", b"x", {})], "member 'dockyard-volumes/other/x': 'dockyard-volumes/other/x' "
                                                         "is outside the backup's folders (dockyard-volumes/data/)"),
            ([("etc/passwd", b"x", {})], "member 'etc/passwd': 'etc/passwd' is outside the backup's folders"),
            ([("dockyard-volumes/data/root", b"", {"type": b"2", "linkname": "/"}),
              ("dockyard-volumes/data/root/etc/x", b"x", {})],
             "member 'dockyard-volumes/data/root': a symlink to the absolute path '/': it would leave the volume"),
            ([("dockyard-volumes/data/shadow", b"", {"type": b"1", "linkname": "/etc/shadow"})],
             "member 'dockyard-volumes/data/shadow': '/etc/shadow' is an absolute path"),
        ]
        for extra, says in attacks:
            forge(archive, tar_of(*GOOD, *extra))
            error = fails("backup", "restore", "site", "web/data", made["backup_id"], "--yes", cwd=app.path)
            assert says in error and "nothing was restored" in error, error
        forge(archive, tar_of(*GOOD)[:5000])  # cut in the middle of 'big'
        error = fails("backup", "restore", "site", "web/data", made["backup_id"], "--yes", cwd=app.path)
        assert "not a whole tar archive: unexpected end of data (in or right after member " \
               "'dockyard-volumes/data/big')" in error, error
        assert volume_files(docker_client, volume, app.name) == before  # every refusal left it as it was
        assert staging_volumes(docker_client, app.name) == []

        # the backup as it was made restores: files added since are gone, owners as archived
        archive.write_bytes(good[0])
        archive.with_name(f"{made['backup_id']}.json").write_text(good[1])
        docker_client.containers.run("dockyard/busybox:1.35", ["sh", "-c", "echo later > /data/c && rm /data/a"],
                                     volumes={volume: {"bind": "/data", "mode": "rw"}}, remove=True,
                                     labels={"dockyard.app": app.name})
        ok("backup", "restore", "site", "web/data", made["backup_id"], "--yes", cwd=app.path)
        assert volume_files(docker_client, volume, app.name) == before
        assert staging_volumes(docker_client, app.name) == []
    finally:
        remove_app_resources(docker_client, app.name)


@pytest.mark.parametrize("host_paths", [True, False], ids=["gnu-tar-on-this-host", "engine-api"])
def test_an_unpacking_that_fails_half_way_leaves_the_old_data(tmp_path: Path, dockyard_env: Path, docker_client,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              host_paths: bool) -> None:
    """The member check taken away, a tar cut half-way reaches the unpacking (GNU tar, or the engine's
    archive endpoint), which fails after it started: the staging volume took the damage, not the live one."""
    import secrets

    from dockyard.backup import archive as archives
    from dockyard.backup.service import Backups
    from dockyard.backup.stores import LocalStore
    from dockyard.config.service import open_config_service
    from dockyard.errors import BackupError
    from dockyard.spec import parse_spec

    app = "t" + secrets.token_hex(4)
    spec = parse_spec(f"app: {app}\nservices:\n  web:\n    port: 8080\n    volumes: [{{name: data, path: /data}}]\n"
                      "environments:\n  site: {engine: local}\n")
    volume = docker_client.volumes.create(f"dockyard_{app}_site_web_data", labels={
        "dockyard.managed": "1", "dockyard.app": app, "dockyard.env": "site", "dockyard.service": "web",
        "dockyard.volume": "data"})
    try:
        docker_client.containers.run("dockyard/busybox:1.35", ["sh", "-c", "mkdir /data/sub && echo one > /data/a && "
                                     "echo two > /data/sub/b"], volumes={volume.name: {"bind": "/data", "mode": "rw"}},
                                     remove=True, labels={"dockyard.app": app})
        before = volume_files(docker_client, volume.name, app)
        lines: list[str] = []
        backups = Backups(spec, LocalStore(tmp_path / "store"), open_config_service(), lines.append, by="t",
                          host_paths=host_paths)
        made = backups.create("site", "web/data")
        archive = tmp_path / "store" / app / "site" / "web.data" / f"{made.id}.tar.zst"
        forge(archive, tar_of(*GOOD, *[(f"dockyard-volumes/data/f{n}", b"y" * 100_000, {}) for n in range(20)])
              [:1_500_000])
        monkeypatch.setattr(archives, "check_members", lambda stream, volumes: 0)
        with pytest.raises(BackupError) as caught:
            backups.restore("site", "web/data", made.id)
        assert "failed before its data was touched" in caught.value.message
        assert "its data is as it was" in caught.value.message
        assert volume_files(docker_client, volume.name, app) == before
        assert staging_volumes(docker_client, app) == []
    finally:
        remove_app_resources(docker_client, app)


def test_a_restore_command_that_deletes_then_fails_on_a_bad_dump_leaves_the_data(
        app: TestApp, docker_client, dockyard_env: Path) -> None:
    """The accessory's restore command runs on fresh staging volumes: one that empties the data first
    and then fails on the dump it reads empties nothing that was live."""
    from dockyard.backup.service import Backups
    from dockyard.backup.stores import LocalStore
    from dockyard.config.service import open_config_service
    from dockyard.spec.loader import load_spec

    checked = ("rm -rf /data/appendonlydir && mkdir /data/appendonlydir && cp \"$DOCKYARD_DUMP\" "
               "/data/appendonlydir/appendonly.aof.1.base.rdb && head -c 5 \"$DOCKYARD_DUMP\" | grep -q REDIS &&")
    spec = app.spec_file.read_text()
    assert spec.count("cp \"$DOCKYARD_DUMP\" /data/appendonlydir/appendonly.aof.1.base.rdb &&") == 1
    app.write("dockyard.yml", spec.replace(
        "rm -rf /data/appendonlydir && mkdir /data/appendonlydir &&\n          cp \"$DOCKYARD_DUMP\" "
        "/data/appendonlydir/appendonly.aof.1.base.rdb &&", checked))
    assert checked in app.spec_file.read_text()
    app.commit("the restore command checks the dump, after it deleted the data")
    port = start_app(app, docker_client, 20)
    ok("backup", "create", "site", "db", cwd=app.path)
    [made] = backups(app)
    assert put(port, "after", "backup") == "+OK"
    ok("accessory", "stop", "site", "db", cwd=app.path)
    archive = dockyard_env / "backups" / app.name / "site" / "db" / f"{made['backup_id']}.dump.zst"
    good = archive.read_bytes(), archive.with_name(f"{made['backup_id']}.json").read_text()

    forge(archive, b"not a dump at all\n" * 1000)
    error = fails("backup", "restore", "site", "db", made["backup_id"], "--yes", cwd=app.path)
    assert "restoring db of " in error and "failed before its data was touched" in error, error
    assert "exited 1" in error and "its data is as it was" in error
    assert staging_volumes(docker_client, app.name) == []
    ok("accessory", "boot", "site", "db", cwd=app.path)
    assert get(port, "after") == "backup" and get(port, "k7") == "v7"  # every key, the later one too

    # the good dump restores, through the Engine API as for a remote engine: the key set after it is gone
    archive.write_bytes(good[0])
    archive.with_name(f"{made['backup_id']}.json").write_text(good[1])
    ok("accessory", "stop", "site", "db", cwd=app.path)
    lines: list[str] = []
    Backups(load_spec(app.spec_file), LocalStore(dockyard_env / "backups"), open_config_service(), lines.append,
            by="t", host_paths=False).restore("site", "db", made["backup_id"])
    assert staging_volumes(docker_client, app.name) == []
    ok("accessory", "boot", "site", "db", cwd=app.path)
    assert get(port, "after") == "" and [get(port, f"k{n}") for n in range(20)] == [f"v{n}" for n in range(20)]
