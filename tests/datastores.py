"""FROM scratch images of real data stores from this machine's Debian packages (issue 16): the
binary and every shared library it links copied into a build context, nothing else."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import docker
import httpx

from dockyard.engine import labels as L
from tests.apps import TestApp, make_app
from tests.conftest import run_cli

REDIS_DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
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
    libraries, a static busybox (the shell of its backup commands); data in /data, owned by
    nobody, the user it runs as."""
    rootfs = dest / "rootfs"
    binaries = [shutil.which("redis-server"), shutil.which("redis-cli")]
    if not all(binaries):
        raise RuntimeError("redis-server is not installed: bash scripts/setup.sh install --tests")
    for binary in binaries:
        assert binary is not None
        copy_into(rootfs, binary)
        for library in linked_libraries(binary):
            copy_into(rootfs, library)
    copy_into(rootfs, "/bin/busybox")
    (rootfs / "tmp").mkdir(exist_ok=True)
    (dest / "data").mkdir(exist_ok=True)
    (dest / "data" / ".keep").write_text("")
    (dest / "Dockerfile").write_text(REDIS_DOCKERFILE)
    return dest


# The app's side: SET and GET through busybox nc, in RESP's inline form; QUIT makes Redis close.
# A missing key answers $-1 and no value: GET prints nothing.
PUT_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
printf 'SET %s %s\\r\\nQUIT\\r\\n' "${QUERY_STRING%%=*}" "${QUERY_STRING#*=}" | nc "$DB_HOST" "$DB_PORT" | head -1
"""
GET_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
printf 'GET %s\\r\\nQUIT\\r\\n' "$QUERY_STRING" | nc "$DB_HOST" "$DB_PORT" | sed -n 2p | grep -v '^+OK'
"""

ACCESSORIES = """\
accessories:
  db:
    build: {context: redis, dockerfile: Dockerfile}
    # protected mode refuses non-loopback clients without a password: only this environment's network reaches it
    command: [redis-server, --port, "6379", --dir, /data, --appendonly, "yes", --save, "", --protected-mode, "no"]
    port: 6379
    volumes: [{name: data, path: /data}]
    health: {cmd: [redis-cli, ping], interval: 500ms, timeout: 2s, retries: 5, start_period: 10s}
    config: [GREETING, DB_TOKEN]
    backup:
      # an RDB of the running server (redis-cli truncates the file it writes to; stdout it cannot)
      dump: [sh, -c, "redis-cli --rdb /data/.dump.rdb >/dev/null && cat /data/.dump.rdb && rm /data/.dump.rdb"]
      # with appendonly on, Redis loads its AOF directory, not dump.rdb: the dump becomes the AOF's base
      restore:
        - sh
        - -c
        - >-
          rm -rf /data/appendonlydir && mkdir /data/appendonlydir &&
          cp "$DOCKYARD_DUMP" /data/appendonlydir/appendonly.aof.1.base.rdb &&
          echo 'file appendonly.aof.1.base.rdb seq 1 type b' > /data/appendonlydir/appendonly.aof.manifest
      keep: {last: 2, daily: 0, weekly: 0}
"""


def ok(*args: str, cwd: Path) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def redis_app(tmp_path: Path) -> TestApp:
    app = make_app(tmp_path, replicas=2, extra_envs="  site: {engine: local, registry: local}\n")
    redis_context(app.path / "redis")
    app.write("www/cgi-bin/put", PUT_CGI)
    app.write("www/cgi-bin/get", GET_CGI)
    spec = app.spec_file.read_text().replace(
        "    replicas: 2\n",
        '    replicas: 2\n    env: {DB_HOST: "${accessories.db.host}", DB_PORT: "${accessories.db.port}"}\n')
    app.write("dockyard.yml", spec.replace("config:\n", ACCESSORIES + "config:\n", 1))
    app.commit("a redis accessory")
    return app


def web_port(client: docker.DockerClient, app: TestApp) -> int:
    found = client.containers.list(filters=L.scope_filters(app.name, "site", "web"))
    return sorted(port for c in found if (port := L.loopback_port(c.attrs, 8080)))[0]


def put(port: int, key: str, value: str) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/cgi-bin/put?{key}={value}", timeout=10).text.strip()


def get(port: int, key: str) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/cgi-bin/get?{key}", timeout=10).text.strip()


def accessory(client: docker.DockerClient, app: TestApp) -> docker.models.containers.Container:
    return client.containers.get(f"{app.name}_site_db")


PG_BIN = "/usr/lib/postgresql/15/bin"
PG_DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && chmod 1777 /tmp"]
COPY --chown=70:70 data /data
ENV PATH=/usr/lib/postgresql/15/bin:/bin TZ=UTC
USER 70:70
EXPOSE 5432
"""


def _with_libraries(rootfs: Path, path: str) -> None:
    copy_into(rootfs, path)
    for library in linked_libraries(path):
        copy_into(rootfs, library)


def postgres_context(dest: Path) -> Path:
    """A build context for a PostgreSQL 15 image from Debian's postgresql-15: the server, initdb,
    psql and pg_isready with every library they link, the two modules initdb loads (PL/pgSQL, the
    snowball dictionaries), its share/ files, UTC's zone file, a static busybox; a `postgres` user
    (uid 70) it runs as, its data in /data."""
    if not Path(PG_BIN, "postgres").exists():
        raise RuntimeError("postgresql-15 is not installed: bash scripts/setup.sh install --tests")
    rootfs = dest / "rootfs"
    for name in ("postgres", "initdb", "psql", "pg_isready"):
        _with_libraries(rootfs, f"{PG_BIN}/{name}")
    for module in ("plpgsql.so", "dict_snowball.so"):
        _with_libraries(rootfs, f"/usr/lib/postgresql/15/lib/{module}")
    shutil.copytree("/usr/share/postgresql/15", rootfs / "usr/share/postgresql/15", dirs_exist_ok=True)
    for zone in ("UTC", "Etc/UTC"):
        copy_into(rootfs, f"/usr/share/zoneinfo/{zone}")
    copy_into(rootfs, "/bin/busybox")
    (rootfs / "etc").mkdir(exist_ok=True)
    (rootfs / "etc" / "passwd").write_text("postgres:x:70:70::/data:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("postgres:x:70:\nnogroup:x:65534:\n")
    (rootfs / "tmp").mkdir(exist_ok=True)
    (dest / "data").mkdir(exist_ok=True)
    (dest / "data" / ".keep").write_text("")
    (dest / "Dockerfile").write_text(PG_DOCKERFILE)
    return dest


def psql_client(rootfs: Path) -> Path:
    """psql and its libraries, to be copied into an app's image (COPY pgclient/ /)."""
    _with_libraries(rootfs, f"{PG_BIN}/psql")
    return rootfs
