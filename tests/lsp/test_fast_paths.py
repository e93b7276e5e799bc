"""What the server caches and sends its own way to answer fast under load (issue 18) gives what
the slow way gave: git facts and taken names, code actions, plain JSON on the wire."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kodama_lsp.features import code_actions, local_facts
from kodama_lsp.features.local_facts import LocalFacts
from kodama_lsp.wire import PlainJsonProtocol
from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter

from kodama.git import session as git
from kodama.models import Session, Status
from kodama.names import suggest_session_name
from kodama.store import Store
from tests.fixtures.repo import make_repo


@pytest.fixture
def looks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Stamps trusted at once (git's rename on checkout changes the inode anyway); every fresh
    look at a folder is recorded."""
    monkeypatch.setattr(local_facts, "SETTLE_NS", 0)
    seen: list[Path] = []
    real = local_facts._look

    def look(folder: Path) -> local_facts.GitFacts:
        seen.append(folder)
        return real(folder)

    monkeypatch.setattr(local_facts, "_look", look)
    return seen


def test_git_facts_are_kept_until_a_checkout(tmp_path: Path, looks: list[Path]) -> None:
    repo = make_repo(tmp_path / "repo")
    facts = LocalFacts()
    first = facts.git(repo)
    assert (first.root, first.branch) == (git.repo_root(repo), git.current_branch(repo))
    assert facts.git(repo) is first
    assert looks == [repo]
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-b", "Other/Branch"], check=True)
    assert facts.git(repo).branch == "Other/Branch" == git.current_branch(repo)
    assert looks == [repo, repo]


def test_git_facts_of_a_fresh_head_are_looked_at_again(
    tmp_path: Path, looks: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setattr(local_facts, "SETTLE_NS", 10**18)  # every stamp "just changed"
    facts = LocalFacts()
    facts.git(repo)
    facts.git(repo)
    assert looks == [repo, repo]


def test_git_facts_outside_git(tmp_path: Path, looks: list[Path]) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    facts = LocalFacts()
    assert (facts.git(folder).root, facts.git(folder).branch) == (None, None)
    assert looks == [folder]  # within NOT_A_REPO_TTL


def test_taken_names_follow_the_store(tmp_path: Path, looks: list[Path]) -> None:
    store = Store(tmp_path / "home")
    facts = LocalFacts()
    assert facts.taken(store) == frozenset()
    store.write("ns1", "alpha", {"localPath": str(tmp_path)})
    assert facts.taken(store) == {"alpha"}
    assert facts.taken(store) is facts.taken(store)  # kept while the folder is as it was
    store.write("ns2", "alpha", {})
    store.write("ns1", "beta", {})
    assert facts.taken(store) == {str(r["name"]) for r in store.all()} == {"alpha", "beta"}
    store.remove("ns1", "beta")
    assert facts.taken(store) == {"alpha"}


def test_suggestion_from_cached_facts_is_the_engines(tmp_path: Path, looks: list[Path]) -> None:
    from kodama.names import name_from

    repo = make_repo(tmp_path / "repo")
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-b", "kodama/Fix_it"], check=True)
    facts = LocalFacts()
    taken = {"fix-it"}
    assert name_from(facts.git(repo).branch, repo, taken) == suggest_session_name(repo, taken)


def _session(name: str, local_path: Path, status: Status = Status.RUNNING) -> Session:
    return Session(name=name, namespace="ns", status=status, local_path=str(local_path))


def test_code_actions_are_lsprotocols_code_actions(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    sessions = [
        _session("a", link),
        _session("b", tmp_path / "elsewhere"),
        _session("c", tmp_path, Status.STOPPED),
    ]
    out = code_actions.build(sessions, tmp_path, [])
    converter = default_converter()
    typed = [converter.structure(a, types.CodeAction) for a in out]
    assert [converter.unstructure(t) for t in typed] == out  # nothing lost or added
    args = [a["command"]["arguments"] for a in out]
    assert args[:2] == [[{"root": str(tmp_path)}], [{}]]
    assert {a[0].get("name") for a in args} == {None, "a", "c"}  # b is another checkout's
    only = code_actions.build(sessions, tmp_path, ["source.kodama.delete"])
    assert {a["kind"] for a in only} == {"source.kodama.delete"}
    assert len(only) == 2


class _Collect:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        pass


def _sent(protocol_cls: type[LanguageServerProtocol], send: Any) -> list[Any]:
    server = LanguageServer("t", "1", protocol_cls=protocol_cls)
    writer = _Collect()
    server.protocol.set_writer(writer)
    send(server.protocol)
    return [json.loads(d.split(b"\r\n\r\n", 1)[1]) for d in writer.sent]


@pytest.mark.parametrize(
    "send",
    [
        lambda p: p._send_response(7, {"sessions": [{"name": "a", "agent": None}]}),
        lambda p: p._send_response(8, [{"title": "t", "kind": "source.kodama.list"}]),
        lambda p: p._send_response(9, [types.Command(title="t", command="c")]),
        lambda p: p._send_response(10, None),
        lambda p: p.notify("kodama/sessionsChanged", {"sessions": [{"name": "a"}]}),
        lambda p: p.notify(
            types.WINDOW_LOG_MESSAGE,
            types.LogMessageParams(type=types.MessageType.Log, message="m"),
        ),
    ],
)
def test_plain_json_on_the_wire_is_what_pygls_sends(send: Any) -> None:
    assert _sent(PlainJsonProtocol, send) == _sent(LanguageServerProtocol, send)


def test_a_plain_response_forgets_its_result_type() -> None:
    server = LanguageServer("t", "1", protocol_cls=PlainJsonProtocol)
    server.protocol.set_writer(_Collect())
    server.protocol._result_types[3] = types.ExecuteCommandResponse
    server.protocol._send_response(3, {"name": "x"})
    assert 3 not in server.protocol._result_types


def test_cached_store_parses_only_what_changed(
    tmp_path: Path, looks: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KODAMA_HOME", str(tmp_path / "home"))
    plain, cached = Store(), local_facts.CachedStore()
    plain.write("ns1", "alpha", {"sync": {"enabled": True, "localPath": "/x"}})
    plain.write("ns2", "alpha", {})
    assert cached.all() == plain.all()
    parsed: list[str] = []  # the files the cached store parses (the plain one reads too)
    real = cached._load

    def counted(path: Path) -> dict[str, Any] | None:
        parsed.append(path.name)
        return real(path)

    monkeypatch.setattr(cached, "_load", counted)
    first = cached.all()
    first[0]["name"] = "changed by a caller"
    assert parsed == []  # the folder as it was: no file read
    assert cached.all() == plain.all()  # and a caller's change to its copy stays there
    parsed.clear()
    plain.write("ns1", "beta", {})
    plain.update("ns2", "alpha", localPath="/y")
    assert cached.all() == plain.all()
    assert sorted(parsed) == ["alpha.ns2.yaml", "beta.yaml"]
