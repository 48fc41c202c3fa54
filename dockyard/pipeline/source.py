"""The source of a run: a commit exported from a mirror of the app's repository.

Runs never build from a developer's work tree: each run gets the exact tree of its commit
(`git archive`), so what is built is what was committed, whatever the work tree holds now.
"""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard import settings
from dockyard.errors import BuildError


def _git(*args: str, cwd: Path | None = None) -> bytes:
    try:
        # the mirror is under DOCKYARD_HOME: what git writes there is the owner's alone
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True, timeout=300,
                              umask=settings.PRIVATE_UMASK).stdout
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"git {' '.join(args[:3])} failed: {exc.stderr.decode(errors='replace').strip()}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"git {' '.join(args[:3])} timed out") from exc


def work_dir(app: str) -> Path:
    return settings.home() / "work" / app


@contextmanager
def _mirror_locked(app: str) -> Iterator[Path]:
    """The app's mirror (its path), for one process and thread at a time (the server's poller and a
    run asked through the API met on a fresh app: two clones into one folder, and one failed)."""
    mirror = work_dir(app) / "mirror.git"
    settings.private_dir(mirror.parent)
    lock = os.open(mirror.parent / "mirror.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield mirror
    finally:
        os.close(lock)  # and with it the lock


def update_mirror(app: str, repo: str) -> Path:
    """The app's mirror, cloned or fetched."""
    with _mirror_locked(app) as mirror:
        _update_mirror(mirror, repo)
    return mirror


def fetch_ref(app: str, repo: str, ref: str, keep_as: str) -> tuple[Path, str | None]:
    """The app's mirror, fetched, with `ref` of the repository (refs/pull/7/head) fetched too and kept
    as `keep_as`: (mirror, the commit it points at, None when the repository has no such ref)."""
    with _mirror_locked(app) as mirror:
        _update_mirror(mirror, repo)
        found = subprocess.run(["git", "--git-dir", str(mirror), "ls-remote", "origin", ref], capture_output=True,
                               text=True, timeout=120)
        if found.returncode != 0 or not found.stdout.strip():
            return mirror, None
        _git("--git-dir", str(mirror), "fetch", "--quiet", "origin", f"+{ref}:{keep_as}")
    result = subprocess.run(["git", "--git-dir", str(mirror), "rev-parse", "--verify", "-q", f"{keep_as}^{{commit}}"],
                            capture_output=True, text=True, timeout=60)
    return mirror, result.stdout.strip() or None


def _update_mirror(mirror: Path, repo: str) -> None:
    if not mirror.exists():
        # --no-hardlinks: a repository on this host shares no file (nor its mode) with the mirror
        _git("clone", "--quiet", "--mirror", "--no-hardlinks", repo, str(mirror))
    else:
        _git("--git-dir", str(mirror), "remote", "set-url", "origin", repo)
        _git("--git-dir", str(mirror), "fetch", "--quiet", "--prune", "origin", "+refs/heads/*:refs/heads/*")
        # The remote's default branch may have changed since the clone; the mirror's HEAD follows it,
        # since the default branch is where the pipeline's rules are read from.
        for line in _git("--git-dir", str(mirror), "ls-remote", "--symref", "origin", "HEAD").decode().splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                _git("--git-dir", str(mirror), "symbolic-ref", "HEAD", line[len("ref: "):-len("\tHEAD")])
                break


def export_commit(app: str, repo: str, commit: str, mirror: Path | None = None) -> Path:
    """The tree of `commit` in a directory of its own; runs of the same commit share it. `mirror`:
    one the caller has just updated, so it is not fetched again.

    The tree is unpacked beside its place and renamed into it whole: a webhook's handler and a
    server loop exporting the same commit at once never see (nor delete) each other's half tree."""
    dest = work_dir(app) / "commits" / commit
    marker = dest / ".dockyard-exported"
    if marker.exists():
        return dest
    mirror = mirror or update_mirror(app, repo)
    archive = _git("--git-dir", str(mirror), "archive", "--format=tar", commit)
    settings.private_dir(dest.parent)
    staged = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}-", dir=dest.parent))  # 0700
    try:
        # The tree keeps git's modes (0644, 0755): they become the image's, and its folder is 0700.
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            try:
                # "data": no link that points outside the tree (absolute or ../), no device, no setuid bits.
                tar.extractall(staged, filter="data")
            except tarfile.FilterError as exc:
                raise BuildError(f"commit {commit[:12]} of {app} holds {exc.tarinfo.name!r}, which points outside "
                                 "the repository (a symlink to an absolute path or above the top); refusing to "
                                 "export it", hint="commit the file itself instead of a link to it") from exc
        settings.write_private(staged / marker.name, commit)
        if dest.exists() and not marker.exists():
            shutil.rmtree(dest, ignore_errors=True)  # a half tree an older Dockyard left
        try:
            os.rename(staged, dest)
        except OSError:
            if not marker.exists():  # not another exporter's whole tree: a real failure
                raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return dest


def is_on_branch(mirror: Path, commit: str, branch: str) -> bool:
    """Whether `commit` is reachable from the head of `branch` in the mirror."""
    result = subprocess.run(["git", "--git-dir", str(mirror), "merge-base", "--is-ancestor", commit,
                             f"refs/heads/{branch}"], capture_output=True, timeout=60)
    return result.returncode == 0


def branch_commit(mirror: Path, branch: str) -> str | None:
    """The commit `branch` points at in the mirror (as of its last fetch), None if it has no such branch."""
    result = subprocess.run(["git", "--git-dir", str(mirror), "rev-parse", "--verify", "-q",
                             f"refs/heads/{branch}^{{commit}}"], capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or None if result.returncode == 0 else None


def default_branch_head(mirror: Path) -> str | None:
    """The commit of the repository's default branch (the mirror's HEAD), None if it has none."""
    result = subprocess.run(["git", "--git-dir", str(mirror), "rev-parse", "--verify", "-q", "HEAD^{commit}"],
                            capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or None if result.returncode == 0 else None


def default_branch_name(mirror: Path) -> str | None:
    """The name of the repository's default branch (the branch the mirror's HEAD names), if any."""
    result = subprocess.run(["git", "--git-dir", str(mirror), "symbolic-ref", "-q", "--short", "HEAD"],
                            capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or None if result.returncode == 0 else None


def branch_head(repo: str, branch: str) -> str | None:
    """The commit a remote branch points at now (for polling), or None when it does not exist."""
    out = _git("ls-remote", repo, f"refs/heads/{branch}").decode().split()
    return out[0] if out else None


def resolve_commit(repo: str, ref: str) -> str:
    return _git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=Path(repo)).decode().strip()
