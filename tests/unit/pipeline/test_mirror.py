"""The app's mirror is cloned or fetched by one at a time: the server's poller and a run asked through
its API met on a fresh app (its loops now start while it already answers, issue 30) and two clones
into one folder failed one of them."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from dockyard.pipeline.source import update_mirror


def test_two_updates_of_a_fresh_mirror_at_once_both_succeed(dockyard_env: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                                                "--allow-empty", "-m", "first"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    failures: list[BaseException] = []

    def update() -> None:
        try:
            update_mirror("shop", str(repo))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            failures.append(exc)

    threads = [threading.Thread(target=update) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    heads = subprocess.run(["git", "--git-dir", str(dockyard_env / "work" / "shop" / "mirror.git"), "rev-parse",
                            "main"], capture_output=True, text=True, check=True).stdout.strip()
    assert len(heads) == 40
