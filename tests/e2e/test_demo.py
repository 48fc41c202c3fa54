"""make demo's path, with a copy of the example under another name: from a git commit through every
environment, one image, each environment with its own configuration."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import remove_app_networks

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_demo_takes_one_image_through_every_environment(example_copy: tuple[Path, str], tmp_path: Path) -> None:
    app_dir, name = example_copy
    env = {**os.environ, "DEMO_APP_DIR": str(app_dir), "DOCKYARD_HOME": str(tmp_path / "home"),
           "DOCKYARD_SECRET_KEY_FILE": str(tmp_path / "secret.key")}
    env.pop("DOCKYARD_CONFIG_STORE", None)
    dockyard = [str(REPO / ".venv/bin/dockyard"), "-f", str(app_dir / "dockyard.yml")]
    try:
        result = subprocess.run(["bash", str(REPO / "scripts/demo.sh")], env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        rows = json.loads(subprocess.run([*dockyard, "ps", "--json"], env=env, capture_output=True, text=True,
                                         check=True).stdout)
        by_env: dict[str, list[dict]] = {}
        for row in rows:
            if not row.get("accessory"):
                by_env.setdefault(row["env"], []).append(row)
        caches = {r["env"]: r["health"] for r in rows if r.get("accessory") == "cache"}
        assert caches == {"testing": "healthy", "production": "healthy"}  # staging runs none (its engine lacks it)
        webs = {e: [r for r in rows if r["service"] == "web"] for e, rows in by_env.items()}
        workers = {e: [r for r in rows if r["service"] == "worker"] for e, rows in by_env.items()}
        assert {e: len(r) for e, r in webs.items()} == {"testing": 2, "staging": 2, "production": 3}
        assert {e: len(r) for e, r in workers.items()} == {"testing": 1, "staging": 1, "production": 1}
        assert all(r["url"] is None and r["public"] == [] for w in workers.values() for r in w)  # no port
        assert all(r["health"] == "healthy" for r in rows)
        assert len({r["commit_sha"] for r in rows if not r.get("accessory")}) == 1  # one image everywhere
        for env_name, replicas in webs.items():
            page = httpx.get(replicas[0]["url"] + "/cgi-bin/info", timeout=5).text
            assert f"environment: {env_name}" in page
            assert f"DOMAIN={env_name}.hello.example" in page
            assert f"server_name = {env_name}.hello.example" in page
            assert "DB_PASSWORD: present" in page and f"demo-{env_name}" not in page
            if env_name == "staging":
                assert "visits: no cache in this environment" in page
            else:  # the app counts in its environment's Redis accessory, at the address resolved at deploy
                again = httpx.get(replicas[0]["url"] + "/cgi-bin/info", timeout=5).text
                first, second = (int(p.split("visits: ")[1].split()[0]) for p in (page, again))
                assert second == first + 1
        digests = set()
        for env_name in by_env:
            releases = json.loads(subprocess.run([*dockyard, "releases", env_name, "--json"], env=env,
                                                 capture_output=True, text=True, check=True).stdout)
            digests.add(releases[0]["image"].split("@")[1])
        assert len(digests) == 1  # promoted, never rebuilt

        # Running it again changes nothing.
        again = subprocess.run(["bash", str(REPO / "scripts/demo.sh")], env=env, capture_output=True, text=True,
                               timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        assert again.stdout.count("already runs release") == 3
    finally:
        certs = Path("/var/lib/dockyard/tls-dockerd/certs")
        if (certs / "cert.pem").exists():
            import docker.tls

            tls = docker.tls.TLSConfig(client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
                                       ca_cert=str(certs / "ca.pem"), verify=str(certs / "ca.pem"))
            tls_client = docker.DockerClient(base_url="tcp://127.0.0.1:2376", tls=tls, version="1.41")
            tls_client.api.trust_env = False
            for container in tls_client.containers.list(all=True, filters={"label": f"dockyard.app={name}"}):
                container.remove(force=True)
            remove_app_networks(tls_client, name)
            tls_client.close()
