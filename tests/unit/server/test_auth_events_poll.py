from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import NotFound, UsageError
from dockyard.netcheck import parse_listen
from dockyard.pipeline.store import Piece, Run, Step
from dockyard.server.auth import PREFIX, TokenStore, bearer, token_hash
from dockyard.server.events import Seen, changes, shown, sse
from dockyard.server.poller import decide, parse_symref, pollable_branches
from dockyard.state.db import StateDB


@pytest.fixture
def tokens(tmp_path: Path) -> TokenStore:
    return TokenStore(StateDB(tmp_path / "state.db"))


def test_token_is_stored_only_as_its_sha256(tokens: TokenStore) -> None:
    record, token = tokens.create("ci")
    assert token.startswith(PREFIX) and len(token) > 40
    rows = tokens.table.conn.execute("SELECT name, sha256 FROM tokens").fetchall()
    assert rows == [("ci", token_hash(token))]
    assert token not in repr(rows)
    assert tokens.verify(token) == record
    assert tokens.verify(token_hash(token)) is None  # the stored hash is not a token
    assert tokens.verify(token + "x") is None and tokens.verify(None) is None and tokens.verify("") is None


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_revoke_by_id_or_name(tokens: TokenStore) -> None:
    first, token1 = tokens.create("ci")
    with pytest.raises(UsageError, match="exists already"):  # names are unique: they sign approvals
        tokens.create("ci")
    second, token2 = tokens.create("ci-2")
    third, token3 = tokens.create("alice")
    assert [t.id for t in tokens.revoke(str(first.id))] == [first.id]
    assert tokens.verify(token1) is None and tokens.verify(token2) is not None
    assert [t.name for t in tokens.revoke("ci-2")] == ["ci-2"]
    assert [t.id for t in tokens.all()] == [third.id]
    with pytest.raises(NotFound, match="no token with id or name 'nobody'"):
        tokens.revoke("nobody")
    with pytest.raises(UsageError):
        tokens.create("  ")


def test_bearer_header() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer   abc ") == "abc"
    assert bearer("Basic abc") is None and bearer("Bearer ") is None and bearer(None) is None


def run(status: str) -> Run:
    return Run(7, "shop", "a" * 40, "main", "api", status, 1.0, 2.0, None, "", "host:1", 2.0)


def step(idx: int, status: str, output: str = "") -> Step:
    return Step(7, idx, "build" if idx == 0 else "deploy", "" if idx == 0 else "testing",
                "build image" if idx == 0 else "deploy to testing", status, None, None, None, None,
                printed=len(output.encode()), output=output)


def changes_of(seen: Seen, current: Run, steps: list[Step]) -> list:
    """changes() with each step's output read as the store reads it: the bytes after an offset."""
    outputs = {s.idx: s.output.encode() for s in steps}
    return changes(seen, current, steps,
                   lambda idx, offset: Piece(outputs[idx][offset:].decode(), offset, len(outputs[idx])))


def test_events_report_each_change_once_and_end_when_the_run_waits() -> None:
    seen = Seen()
    first = changes_of(seen, run("running"), [step(0, "running", "10:00:00 building\n"), step(1, "pending")])
    assert [(e, d.get("status", d.get("line"))) for e, d in first] == [
        ("run", "running"), ("step", "running"), ("output", "10:00:00 building")]
    assert changes_of(seen, run("running"), [step(0, "running", "10:00:00 building\n"), step(1, "pending")]) == []
    later = changes_of(seen, run("waiting"), [step(0, "succeeded", "10:00:00 building\n10:00:05 built\n"),
                                           step(1, "running", "10:00:06 started\n")])
    assert [(e, d.get("idx", d.get("id")), d.get("status", d.get("line"))) for e, d in later] == [
        ("run", 7, "waiting"), ("output", 0, "10:00:05 built"), ("step", 0, "succeeded"),
        ("step", 1, "running"), ("output", 1, "10:00:06 started"), ("end", 7, "waiting")]


def test_an_offset_past_what_the_step_printed_streams_it_from_its_start() -> None:
    """A page's offset from elsewhere (another run's page, a restored database) is not trusted."""
    seen = Seen()
    changes_of(seen, run("running"), [step(0, "running", "one\ntwo\n")])
    again = changes_of(seen, run("running"), [step(0, "running", "x\n")])
    assert again == [("output", {"idx": 0, "line": "x"})]


def test_a_page_stream_starts_past_what_the_page_shows() -> None:
    """After Approve the run page reloads with every earlier line; its stream sends only newer ones."""
    output = "10:00:00 building\n10:00:05 built\n"
    seen = shown(f"0:{len(output)},1:0,junk,2:x")
    events = changes_of(seen, run("running"), [step(0, "succeeded", output + "10:00:06 pushed\n"),
                                            step(1, "running", "10:00:07 deploying\n")])
    assert [(e, d.get("idx"), d.get("status", d.get("line"))) for e, d in events] == [
        ("run", None, "running"), ("output", 0, "10:00:06 pushed"), ("step", 0, "succeeded"), ("step", 1, "running"),
        ("output", 1, "10:00:07 deploying")]
    assert shown(None).steps == {}


def test_sse_format() -> None:
    assert sse("end", {"id": 7, "status": "succeeded"}) == 'event: end\ndata: {"id":7,"status":"succeeded"}\n\n'


def test_pollable_branches() -> None:
    assert pollable_branches(["main", "release/*", "hotfix-?", "staging", "main"], "main") == ["main", "staging"]
    assert pollable_branches(["*"], "trunk") == ["trunk"]
    assert pollable_branches(["*"], None) == []
    assert pollable_branches(["feature/[ab]*"], "main") == []


def test_decide() -> None:
    assert decide(None, "a" * 40) == "baseline"
    assert decide("a" * 40, "a" * 40) == "same"
    assert decide("a" * 40, "b" * 40) == "run"
    assert decide("a" * 40, None) == "gone"


def test_parse_symref() -> None:
    text = "ref: refs/heads/trunk\tHEAD\n" + "c" * 40 + "\tHEAD\n"
    assert parse_symref(text) == "trunk"
    assert parse_symref("c" * 40 + "\tHEAD\n") is None


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8700") == ("127.0.0.1", 8700)
    assert parse_listen(":9000") == ("127.0.0.1", 9000)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)  # any free port
    for bad in ("8700", "127.0.0.1", "host:70000", "a:b"):
        with pytest.raises(UsageError, match="expected HOST:PORT"):
            parse_listen(bad)
