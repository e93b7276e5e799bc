"""Config files as a language, through the real server: diagnostics, completion, hover."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from .conftest import CLIENTS, lsp_session

BROKEN = """\
image: busybox
resources:
  cpu: lots
  memory: 1Gi
sync:
  enabled: true
  bogus: 1
"""


def open_doc(client: object, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(  # type: ignore[attr-defined]
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="yaml", version=version, text=text
            )
        )
    )
    return uri


@pytest.mark.lsp
@pytest.mark.parametrize("client_name", CLIENTS)
async def test_broken_repo_config_gets_diagnostics_on_the_right_lines(
    client_name: str, repo: Path, home: Path
) -> None:
    async with lsp_session(client_name=client_name, root=repo, home=home) as (client, _):
        uri = open_doc(client, repo / ".kodama.yaml", BROKEN)
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        diags = sorted(client.diagnostics[uri], key=lambda d: d.range.start.line)
        assert [(d.range.start.line, d.range.start.character) for d in diags] == [(2, 2), (6, 2)]
        assert "resources.cpu" in diags[0].message and "lots" in diags[0].message
        assert diags[1].message == "sync.bogus: unknown key"
        assert all(d.severity == types.DiagnosticSeverity.Error for d in diags)

        # Fixing the file clears them (full-text change).
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text="image: x\n")],
            )
        )
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        assert list(client.diagnostics[uri]) == []


@pytest.mark.lsp
async def test_yaml_syntax_error_and_global_config(repo: Path, home: Path) -> None:
    async with lsp_session(client_name=CLIENTS[1], root=repo, home=home) as (client, _):
        uri = open_doc(client, home / "config.yaml", "image: x\nagent:\n  command: [oops\n")
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        (diag,) = client.diagnostics[uri]
        assert diag.message.startswith("invalid YAML")
        assert diag.range.start.line == 2  # where PyYAML stops (the unterminated list)

        # Other YAML files are not Kodama's business.
        other = open_doc(client, repo / "values.yaml", "bogus: [\n")
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=other),
                position=types.Position(line=0, character=1),
            )
        )
        assert hover is None
        assert other not in client.diagnostics


@pytest.mark.lsp
@pytest.mark.parametrize("client_name", CLIENTS)
async def test_completion_offers_keys_of_the_mapping_at_the_cursor(
    client_name: str, repo: Path, home: Path
) -> None:
    text = "image: x\nresources:\n  cpu: 1\n  \nsync:\n  enabled: false\n"
    async with lsp_session(client_name=client_name, root=repo, home=home) as (client, _):
        uri = open_doc(client, repo / ".kodama.yaml", text)

        async def labels(line: int, character: int) -> dict[str, types.CompletionItem]:
            result = await client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=line, character=character),
                )
            )
            assert isinstance(result, types.CompletionList)
            return {item.label: item for item in result.items}

        nested = await labels(3, 2)
        assert set(nested) == {"memory", "extra"}  # cpu is already there
        doc = nested["memory"].documentation
        assert isinstance(doc, types.MarkupContent) and "Memory" in doc.value

        top = await labels(6, 0)
        assert {"namespace", "storage", "branchPrefix", "agent", "credentials"} <= set(top)
        assert "image" not in top and "sync" not in top
        assert top["branchPrefix"].insert_text == "branchPrefix: "


@pytest.mark.lsp
@pytest.mark.parametrize("client_name", CLIENTS)
async def test_hover_shows_the_documentation_of_a_key(
    client_name: str, repo: Path, home: Path
) -> None:
    text = "storage:\n  claudeHome: 5Gi\nagent:\n  command: claude\n"
    async with lsp_session(client_name=client_name, root=repo, home=home) as (client, _):
        uri = open_doc(client, repo / "sub" / ".kodama.yaml", text)
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=1, character=5),
            )
        )
        assert hover is not None
        assert isinstance(hover.contents, types.MarkupContent)
        assert "storage.claudeHome" in hover.contents.value
        assert "home PVC" in hover.contents.value


@pytest.mark.lsp
async def test_alias_bomb_gets_a_diagnostic_and_the_server_keeps_answering(
    repo: Path, home: Path
) -> None:
    from tests.unit.test_config import ALIAS_BOMB

    async with lsp_session(client_name=CLIENTS[1], root=repo, home=home) as (client, _):
        uri = open_doc(client, repo / ".kodama.yaml", ALIAS_BOMB)
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        (diag,) = client.diagnostics[uri]
        assert "expands to more than 10000 values" in diag.message
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=0, character=0),
            )
        )
        assert hover is None  # `a` is not a Kodama key; what matters is that it answered


@pytest.mark.lsp
async def test_repo_file_keys_outside_the_allow_list_are_flagged(repo: Path, home: Path) -> None:
    text = "image: x\ncredentials:\n  file: ~/.aws/credentials\n"
    async with lsp_session(client_name=CLIENTS[1], root=repo, home=home) as (client, _):
        uri = open_doc(client, repo / ".kodama.yaml", text)
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        (diag,) = client.diagnostics[uri]
        assert diag.range.start.line == 1
        assert diag.message.startswith("credentials: not allowed in a repository's .kodama.yaml")
        glob = open_doc(client, home / "config.yaml", text)
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        assert list(client.diagnostics[glob]) == []
