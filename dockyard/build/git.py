"""Facts about the git checkout an image is built from."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import BuildError


@dataclass(frozen=True)
class Commit:
    sha: str
    branch: str | None
    dirty: bool
    diff_hash: str | None  # identifies the uncommitted change of a dirty tree

    @property
    def short(self) -> str:
        return self.sha[:7]

    @property
    def tag(self) -> str:
        return f"{self.short}-dirty-{self.diff_hash}" if self.dirty else self.short


def _git(repo: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    except FileNotFoundError as exc:
        raise BuildError("git is not installed", hint="apt-get install git") from exc
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"git {' '.join(args)} failed in {repo}: {exc.stderr.strip()}") from exc
    return out.stdout.strip()


def head_commit(repo: Path) -> Commit:
    try:
        inside = _git(repo, "rev-parse", "--is-inside-work-tree") == "true"
    except BuildError as exc:  # git's own "fatal: not a git repository" is no way forward
        if "not installed" in exc.message:
            raise
        inside = False
    if not inside:
        raise BuildError(f"{repo} is not inside a git repository: Dockyard builds an image of a commit",
                         hint="git init && git add -A && git commit -m 'first', then: dockyard build")
    try:
        sha = _git(repo, "rev-parse", "HEAD")
    except BuildError as exc:
        raise BuildError(f"{repo}: the repository has no commit yet", hint="commit your code first") from exc
    branch = _git(repo, "rev-parse", "--abbrev-ref", "HEAD")
    status = _git(repo, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    diff_hash = None
    if status:
        diff = _git(repo, "diff", "HEAD", "--", ".") + status
        diff_hash = hashlib.sha256(diff.encode()).hexdigest()[:8]
    return Commit(sha=sha, branch=None if branch == "HEAD" else branch, dirty=bool(status), diff_hash=diff_hash)
