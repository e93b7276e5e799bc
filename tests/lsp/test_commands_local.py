"""Commands that need no cluster: capabilities, names, confirmations, error mapping, code actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kodama_lsp.features.registry import NAMES
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.fixtures.repo import make_repo

from .conftest import CLIENTS, Answers, execute, lsp_session, raw_request

SERVER_COMMANDS = set(NAMES)  # the server's one list (lsp/features/registry.py)


@pytest.mark.lsp
@pytest.mark.parametrize("client_name", CLIENTS)
async def test_capabilities_names_and_confirmations(
    client_name: str, tmp_path: Path, home: Path
) -> None:
    repo = make_repo(tmp_path / "My_Repo", branch="Feature/Fix_Login!!-" + "x" * 50)
    answers = Answers(message_request="Cancel")
    async with lsp_session(client_name=client_name, root=repo, home=home, answers=answers) as (
        client,
        _,
    ):
        assert answers.initialize is not None
        result = answers.initialize.capabilities
        assert result.execute_command_provider is not None
        assert isinstance(result.code_action_provider, types.CodeActionOptions)
        assert set(result.execute_command_provider.commands) == SERVER_COMMANDS
        assert list(result.code_action_provider.code_action_kinds or []) == ["source.kodama"]

        suggested = await execute(client, "kodama.session.suggestName", {"root": str(repo)})
        name = suggested["name"]
        assert name.startswith("feature-fix-login-xxx") and len(name) <= 40
        assert not name.endswith("-")

        # start without a name asks; "Cancel" starts nothing.
        assert await execute(client, "kodama.session.start", {}) is None
        assert answers.asked[-1].message == f"Start Kodama session {name}?"
        assert [a.title for a in answers.asked[-1].actions or []] == ["Start", "Cancel"]

        # delete without confirm asks; "Cancel" deletes nothing.
        assert await execute(client, "kodama.session.delete", {"name": "x1"}) == {"deleted": False}
        assert answers.asked[-1].message.startswith("Delete Kodama session x1")


@pytest.mark.lsp
async def test_errors_are_the_cli_line_as_jsonrpc_error_and_show_message(
    repo: Path, home: Path
) -> None:
    async with lsp_session(client_name=CLIENTS[0], root=repo, home=home) as (client, _):
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.session.get", {"name": "Bad_Name"})
        assert info.value.code == -32803
        expected = (
            "invalid session name 'Bad_Name': use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
        assert info.value.message == expected
        # showMessage is sent before the error response, so it has arrived by now.
        assert any(
            m.type == types.MessageType.Error and m.message == expected for m in client.messages
        )

        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.session.get", {})
        assert info.value.code == -32803 and "name" in info.value.message

        with pytest.raises(JsonRpcException) as info:  # no kubeconfig here: translated error
            await execute(client, "kodama.session.list", {})
        assert info.value.message.startswith("no kubeconfig at")


@pytest.mark.lsp
async def test_source_code_actions_in_a_git_workspace(
    repo: Path, home: Path, tmp_path: Path
) -> None:
    async with lsp_session(client_name=CLIENTS[0], root=repo, home=home) as (client, _):

        async def actions(path: Path, only: list[str] | None = None) -> list[dict[str, Any]]:
            params = types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
                range=types.Range(
                    start=types.Position(line=0, character=0),
                    end=types.Position(line=0, character=0),
                ),
                context=types.CodeActionContext(diagnostics=[], only=only),
            )
            return list(await raw_request(client, types.TEXT_DOCUMENT_CODE_ACTION, params) or [])

        found = await actions(repo / "README.md")
        kinds = {a["kind"]: a for a in found}
        assert {"source.kodama.start", "source.kodama.list"} <= set(kinds)
        start = kinds["source.kodama.start"]["command"]
        assert start["command"] == "kodama.session.start"
        assert start["arguments"] == [{"root": str(repo.resolve())}]
        only_list = await actions(repo / "README.md", ["source.kodama.list"])
        assert [a["kind"] for a in only_list] == ["source.kodama.list"]
        assert await actions(repo / "README.md", ["quickfix"]) == []
        outside = tmp_path / "not-a-repo"
        outside.mkdir()
        (outside / "f.txt").write_text("x")
        assert await actions(outside / "f.txt") == []


@pytest.mark.lsp
async def test_start_asks_before_using_what_the_repository_config_sets(
    tmp_path: Path, home: Path
) -> None:
    repo = make_repo(tmp_path / "cloned")
    (repo / ".kodama.yaml").write_text("image: evil.example/miner\nenv: {A: '1'}\n")
    answers = Answers(message_request="Cancel")
    async with lsp_session(
        client_name=CLIENTS[0],
        root=repo,
        home=home,
        answers=answers,
        init_options={"namespace": "ns"},
    ) as (client, _):
        assert await execute(client, "kodama.session.start", {"name": "s1", "noSync": True}) is None
        message = answers.asked[-1].message
        assert "image: evil.example/miner" in message and "env.A: 1" in message
        assert [a.title for a in answers.asked[-1].actions or []] == ["Start", "Cancel"]


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: dev, context: {cluster: c, user: u}}]
current-context: dev
"""


@pytest.mark.lsp
async def test_unknown_context_and_config_mistakes_reach_the_editor(
    repo: Path, home: Path, tmp_path: Path
) -> None:
    """issue 21: the editors get the CLI's message for these failures too."""
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    opts = {"kubeconfig": str(kc), "context": "nosuch"}
    async with lsp_session(client_name=CLIENTS[0], root=repo, home=home, init_options=opts) as (
        client,
        _,
    ):
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.session.list", {})
        assert info.value.message == (
            f"context 'nosuch' does not exist in kubeconfig {kc} (its contexts: dev)"
        )
        (home / "config.yaml").write_text("agent:\n  comand: x\nsync:\n  enabeld: false\n")
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.session.start", {"name": "fix", "root": str(repo)})
        assert info.value.message == (
            f"{home / 'config.yaml'}: 2 problems: "
            "line 2 agent.comand: unknown key (did you mean command?); "
            "line 4 sync.enabeld: unknown key (did you mean enabled?)"
        )


def test_every_server_command_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "lsp-protocol.md").read_text()
    missing = [name for name in NAMES if f"`{name}`" not in doc]
    assert missing == []


@pytest.mark.lsp
async def test_name_check_config_view_and_bad_arguments_of_the_new_verbs(
    repo: Path, home: Path
) -> None:
    (home / "config.yaml").write_text("image: reg.example/agent:1\n")
    (repo / ".kodama.yaml").write_text("branchPrefix: work/\n")
    async with lsp_session(client_name=CLIENTS[0], root=repo, home=home) as (client, _):
        # The engine's rule, not the client's: 41 characters is one too many.
        ok = await execute(client, "kodama.session.checkName", {"name": "fix-login"})
        assert ok == {"name": "fix-login", "error": None}
        long = await execute(client, "kodama.session.checkName", {"name": "a" * 41})
        assert long["error"] == (
            f"invalid session name {'a' * 41!r}: at most 40 characters (it is 41)"
        )

        view = await execute(client, "kodama.config.view", {"root": str(repo)})
        assert view["sources"] == [str(home / "config.yaml"), str(repo / ".kodama.yaml")]
        assert "image: reg.example/agent:1\n" in view["text"]
        assert "branchPrefix: work/\n" in view["text"]

        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.session.wait", {"name": "x1", "for": "asleep"})
        assert info.value.code == -32803 and info.value.message.startswith(
            "kodama.session.wait: for:"
        )
        with pytest.raises(JsonRpcException) as info:
            await execute(
                client, "kodama.session.wait", {"name": "x1", "for": "idle", "timeout": "soon"}
            )
        assert info.value.message == "invalid --timeout 'soon': use e.g. 30s, 5m, 1h"
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.sync.push", {})
        assert info.value.message.startswith("kodama.sync.push: name:")


@pytest.mark.lsp
async def test_rbac_show_is_what_the_cli_prints(repo: Path, home: Path) -> None:
    import os
    import subprocess
    import sys

    (home / "config.yaml").write_text("namespace: team-a\n")
    cli = Path(sys.executable).parent / "kubectl-kodama"
    env = {**os.environ, "KODAMA_HOME": str(home), "KUBECONFIG": str(home / "no-kubeconfig")}

    def printed(*args: str) -> str:
        run = subprocess.run(
            [str(cli), "rbac", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    no_kubeconfig = {"KUBECONFIG": env["KUBECONFIG"]}
    async with lsp_session(client_name=CLIENTS[0], root=repo, home=home, env=no_kubeconfig) as (
        client,
        _,
    ):
        shown = await execute(client, "kodama.rbac.show", {})
        assert shown["namespace"] == "team-a"
        assert shown["text"] == printed()
        assert "kind: Role\n" in shown["text"] and "RoleBinding" not in shown["text"]

        both = {"user": "alice", "serviceAccount": "ci:runner", "namespace": "team-b"}
        shown = await execute(client, "kodama.rbac.show", both)
        assert shown["namespace"] == "team-b"
        want = printed("-n", "team-b", "--user", "alice", "--serviceaccount", "ci:runner")
        assert shown["text"] == want
        assert shown["text"].count("kind: RoleBinding\n") == 2

        # The CLI's checks and words: one error line, nothing printed.
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.rbac.show", {"serviceAccount": "Bad:Name"})
        assert info.value.message == "invalid namespace 'Bad': must be a DNS-1123 label"
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.rbac.show", {"user": " "})
        assert info.value.message == "--user must not be empty"
