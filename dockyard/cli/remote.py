"""`dockyard rollback ENV` through a running `dockyard server`, when DOCKYARD_SERVER names one.

A rollback inside the blue/green window must take effect in under a second. A new process spends
about 0.6 s importing the CLI framework, the spec models and docker-py before any work; a running
server has them loaded and switches in about 0.1 s. So this module, loaded before anything else,
forwards the command with the standard library only. When the server cannot be reached the
command runs here as usual; once the server has taken the request, its answer is final.

    DOCKYARD_SERVER      http://127.0.0.1:8700 (unset: every command runs in this process)
    DOCKYARD_TOKEN_FILE  a file holding a token from `dockyard token create` (or DOCKYARD_TOKEN)
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dockyard.cli.argv import app_name, split_global

TIMEOUT = 900.0  # outside the window a rollback redeploys: containers start and pass health checks


@dataclass(frozen=True)
class Forward:
    server: str
    env: str
    spec_file: Path
    as_json: bool


def forwardable(argv: list[str], environ: Mapping[str, str]) -> Forward | None:
    """The rollback to forward, or None when the command line is anything else or no server is named."""
    server = environ.get("DOCKYARD_SERVER", "").strip().rstrip("/")
    spec_file, rest = split_global(argv)
    if not server or rest is None or rest[0] != "rollback":
        return None
    flags = [a for a in rest[1:] if a.startswith("-")]
    args = [a for a in rest[1:] if not a.startswith("-")]
    if len(args) != 1 or any(f != "--json" for f in flags):
        return None  # the full CLI explains what is wrong with the arguments
    path = Path(spec_file or environ.get("DOCKYARD_FILE") or "dockyard.yml")
    return Forward(server, args[0], path.resolve(), "--json" in flags)


def token(environ: Mapping[str, str]) -> str:
    path = environ.get("DOCKYARD_TOKEN_FILE")
    if path:
        try:
            return Path(path).expanduser().read_text().strip()
        except OSError as exc:
            raise Refused(f"DOCKYARD_TOKEN_FILE {path}: cannot read it ({exc.strerror})", 2) from exc
    value = environ.get("DOCKYARD_TOKEN", "").strip()
    if not value:
        raise Refused("DOCKYARD_SERVER is set but no token is: set DOCKYARD_TOKEN_FILE to a file holding "
                      "a token from `dockyard token create` (or unset DOCKYARD_SERVER)", 2)
    return value


class Refused(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, exit_code


def post(forward: Forward, app: str, bearer: str) -> dict:
    """The server's answer; Refused for an error answer; URLError when no request reached it."""
    import urllib.error
    import urllib.parse
    import urllib.request

    quote = urllib.parse.quote
    request = urllib.request.Request(
        f"{forward.server}/api/apps/{quote(app, safe='')}/environments/{quote(forward.env, safe='')}/rollback",
        data=b"{}", method="POST",
        headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        raise Refused(*error_of(exc.code, exc.read())) from exc
    except urllib.error.URLError:
        raise
    except (OSError, ValueError) as exc:  # the request was sent: it may have been carried out
        raise Refused(f"dockyard server at {forward.server} took the rollback but its answer was lost ({exc}); "
                      f"see what runs with: dockyard status {forward.env}") from exc


def error_of(status: int, body: bytes) -> tuple[str, int]:
    try:
        data = json.loads(body)
        message = data["error"] + (f"\n  hint: {data['hint']}" if data.get("hint") else "")
    except (ValueError, KeyError, TypeError):
        message = f"dockyard server answered {status}: {body[:200].decode(errors='replace')}"
    return message, 2 if status == 400 else 1


def show(answer: dict, forward: Forward) -> None:
    outcome = answer["outcome"]
    if forward.as_json:
        print(json.dumps(outcome, indent=2))
        return
    print(f"rolled back by the dockyard server at {forward.server}")
    for line in answer.get("log", []):
        print(line)
    print(f"{outcome['app']}/{outcome['env']} runs release {outcome['release_id']} "
          f"(image {outcome['image']}, config revision {outcome['config_revision']})")
    for url in outcome.get("urls", []):
        print(f"  {url}")


def try_forward(argv: list[str], environ: Mapping[str, str] = os.environ) -> int | None:
    """The exit code of the forwarded command; None when it is for this process to run."""
    forward = forwardable(argv, environ)
    if forward is None:
        return None
    # only a forwarded rollback pays for urllib's HTTP client (~30 ms) and ipaddress: every other
    # command starts without them
    import urllib.error
    import urllib.parse

    from dockyard.netcheck import is_loopback

    app = app_name(forward.spec_file)
    if app is None:
        return None
    try:
        url = urllib.parse.urlsplit(forward.server)
        if url.scheme not in ("http", "https"):
            raise Refused(f"DOCKYARD_SERVER {forward.server!r} is not a URL like http://127.0.0.1:8700", 2)
        if url.scheme == "http" and not is_loopback(url.hostname):
            raise Refused(f"DOCKYARD_SERVER {forward.server} is plain http to another host: the token would cross "
                          "the network in the clear; use https://", 2)
        answer = post(forward, app, token(environ))
    except Refused as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except urllib.error.URLError as exc:
        print(f"dockyard server at {forward.server} cannot be reached ({exc.reason}); rolling back here",
              file=sys.stderr)
        return None
    show(answer, forward)
    return 0


def main() -> None:
    """The `dockyard` command: a rollback forwarded to the server, else the CLI (cli/main.py)."""
    code = try_forward(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from dockyard.cli.main import main as run_cli

    run_cli()


def entry() -> None:
    """The `dockyard` console script: `main`, and a read ends without the interpreter's teardown.
    A read that does not follow runs without the cycle collector too: it lives a fraction of a
    second, and collections during its imports cost several ms (memory is still freed by counts)."""
    from dockyard.cli.argv import ends_at_once, follows

    if ends_at_once(sys.argv[1:]) and not follows(sys.argv[1:]):
        import gc

        gc.disable()
    try:
        main()
    except SystemExit as done:
        if ends_at_once(sys.argv[1:]):
            leave_now(done.code)
        raise


def leave_now(code: object) -> None:
    """Exit without tearing the interpreter down (about 20 ms of a read's 150): once a read has
    printed, nothing is left to do that the teardown would do (no file open for writing, no thread,
    nothing written). Its output is flushed first, as an exit would."""
    if isinstance(code, str):  # sys.exit("message"): said on stderr, as an exit says it
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (dockyard ps | head): what was read is what counts
            pass
    os._exit(status)
