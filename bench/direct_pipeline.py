"""The direct side of bench/pipeline.py: a run's steps as plain docker-py calls.

    python bench/direct_pipeline.py APP_DIR APP_NAME ROUND
"""

from __future__ import annotations

import sys
import time

import docker
import httpx

ENVS = [("testing", "127.0.0.1:5000"), ("staging", "127.0.0.1:5001"), ("production", "127.0.0.1:5001")]


def wait_health(container) -> None:
    while True:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)


def test_container(client: docker.DockerClient, image: str, command: list[str], url: str | None) -> None:
    c = client.containers.run(image, command, detach=True, network_mode="host" if url else "none",
                              environment={"TARGET_URL": url} if url else {}, labels={"bench": "pipeline"})
    code = c.wait(timeout=60)["StatusCode"]
    c.remove(force=True)
    if code != 0:
        sys.exit("bench: direct test failed")


def direct_run(path: str, name: str, n: int) -> None:
    client = docker.from_env()
    tag = f"direct{n}"
    image, _ = client.images.build(path=path, tag=f"{name}:{tag}", rm=True)
    digests = {}
    for registry in ("127.0.0.1:5000", "127.0.0.1:5001"):
        image.tag(f"{registry}/{name}", tag)
        for line in client.api.push(f"{registry}/{name}", tag=tag, stream=True, decode=True):
            if "error" in line:
                sys.exit(f"bench: push failed: {line}")
            if "aux" in line:
                digests[registry] = f"{registry}/{name}@{line['aux']['Digest']}"
    test_container(client, digests["127.0.0.1:5000"], ["sh", "-c", "test -f /www/health"], None)
    for env, registry in ENVS:
        ref = digests[registry]
        old = client.containers.list(all=True, filters={"label": [f"bench-env={env}", f"bench-app={name}"]})
        fresh = []
        for _ in range(2):
            c = client.containers.create(ref, ["httpd", "-f", "-p", "8080", "-h", "/www"], detach=True, init=True,
                                         ports={"8080/tcp": ("127.0.0.1", None)},
                                         labels={"bench-env": env, "bench-app": name})
            c.start()
            fresh.append(c)
        for c in fresh:
            wait_health(c)
        port = fresh[0].attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        test_container(client, ref, ["sh", "-c", 'wget -qO- "$TARGET_URL/health" | grep -q ok'],
                       f"http://127.0.0.1:{port}")
        for c in old:
            c.stop(timeout=10)
            c.remove(force=True)



if __name__ == "__main__":
    direct_run(sys.argv[1], sys.argv[2], int(sys.argv[3]))
