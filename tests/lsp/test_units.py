"""The server's pure pieces, without a client: names, options, config-file positions."""

from __future__ import annotations

from pathlib import Path

import pytest
from kodama_lsp.features import config_docs
from kodama_lsp.server import InitOptions
from lsprotocol import types

from kodama.errors import InvalidInput
from kodama.names import suggest_session_name
from kodama.validation import validate_session_name
from tests.fixtures.repo import make_repo


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        ("main", "main"),
        ("kodama/fix-login", "fix-login"),
        ("Feature/JIRA-123_Add.Thing", "feature-jira-123-add-thing"),
        ("--weird--", "weird"),
        ("a" * 39 + "/b", "a" * 39),
    ],
)
def test_suggested_names_are_valid_session_names(
    tmp_path: Path, branch: str, expected: str
) -> None:
    repo = make_repo(tmp_path / "r", branch=branch)
    assert suggest_session_name(repo) == expected


def test_suggested_name_outside_git_is_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "My Project"
    folder.mkdir()
    assert suggest_session_name(folder) == "my-project"


def test_suggested_name_skips_names_taken_on_this_machine(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", branch="main")
    assert suggest_session_name(repo, taken={"main"}) == "main-2"
    assert suggest_session_name(repo, taken={"main", "main-2"}) == "main-3"
    long = make_repo(tmp_path / "l", branch="b" * 45)
    name = suggest_session_name(long, taken={"b" * 40})
    assert name == "b" * 38 + "-2"
    assert validate_session_name(name) == name


def test_init_options_and_kube_flags() -> None:
    opts = InitOptions({"kubeconfig": "/k", "context": "c", "refreshInterval": 2})
    assert opts.refresh_interval == 2.0
    assert opts.kube_flags("ns1") == ["--kubeconfig", "/k", "--context", "c", "-n", "ns1"]
    assert InitOptions(None).kube_flags() == []
    with pytest.raises(InvalidInput):
        InitOptions({"namespace": "Not_Valid"})
    with pytest.raises(InvalidInput):
        InitOptions({"refreshInterval": 0})


def test_key_paths_follow_indentation_and_stop_at_lists() -> None:
    lines = ["agent:", "  command: x", "tolerations:", "  - key: a", "    ", "sync:", "  "]
    assert config_docs.parent_path(lines, 1, 2) == ["agent"]
    assert config_docs.parent_path(lines, 6, 2) == ["sync"]
    assert config_docs.parent_path(lines, 4, 4) is None  # inside a list item
    assert config_docs.completion("image: x\n", types.Position(line=0, character=7)) is None


def test_diagnostic_of_a_nested_unknown_key_points_at_the_key() -> None:
    (diag,) = config_docs.diagnostics("storage:\n  workspace: 1Gi\n  bogus: 2\n", "f")
    assert (diag.range.start.line, diag.range.start.character, diag.range.end.character) == (
        2,
        2,
        10,
    )
    assert diag.message == "storage.bogus: unknown key"
    assert config_docs.diagnostics("- a\n- b\n", "f")[0].range.start.line == 0
