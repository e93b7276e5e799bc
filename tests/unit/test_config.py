"""Config files: parsing, validation with file/key/line, and the documented merge rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from kodama.config import (
    Config,
    find_repo_config,
    layer_issues,
    load_config,
    merge,
    parse_yaml_text,
)
from kodama.errors import ConfigError, InvalidInput


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "kodama-home"
    h.mkdir()
    monkeypatch.setenv("KODAMA_HOME", str(h))
    return h


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    (r / ".git").mkdir(parents=True)
    (r / "src" / "deep").mkdir(parents=True)
    return r


def test_defaults_without_files(home: Path, repo: Path) -> None:
    loaded = load_config(repo)
    cfg = loaded.config
    assert cfg.image.startswith("ghcr.io/")
    assert cfg.resources.cpu == "1" and cfg.resources.memory == "2Gi"
    assert cfg.storage.workspace == "10Gi" and cfg.storage.claude_home == "2Gi"
    assert cfg.branch_prefix == "kodama/"
    assert cfg.sync.mode == "two-way-safe"
    assert loaded.sources == []


def test_seed_fields_stay_valid(home: Path, repo: Path) -> None:
    (home / "config.yaml").write_text(
        "defaults:\n  namespace: team-a\nimage: my/agent:1\nresources:\n  cpu: '2'\n  memory: 4Gi\n"
        "storage:\n  workspace: 20Gi\n  claudeHome: 3Gi\nbranchPrefix: agent/\ngit:\n  secretName: gh\n"
    )
    cfg = load_config(repo).config
    assert cfg.namespace == "team-a"
    assert cfg.image == "my/agent:1"
    assert (cfg.resources.cpu, cfg.resources.memory) == ("2", "4Gi")
    assert (cfg.storage.workspace, cfg.storage.claude_home) == ("20Gi", "3Gi")
    assert cfg.branch_prefix == "agent/"
    assert cfg.git.secret_name == "gh"


def test_defaults_block_may_hold_session_fields(home: Path, repo: Path) -> None:
    (home / "config.yaml").write_text("defaults:\n  image: a/b\n  branchPrefix: x/\n")
    cfg = load_config(repo).config
    assert cfg.image == "a/b" and cfg.branch_prefix == "x/"


def test_same_key_in_defaults_and_top_level_is_rejected(home: Path, repo: Path) -> None:
    (home / "config.yaml").write_text("image: a\ndefaults:\n  image: b\n")
    with pytest.raises(ConfigError, match=r"config.yaml:3: defaults.image"):
        load_config(repo)


def test_precedence_flags_over_repo_over_global(home: Path, repo: Path) -> None:
    (home / "config.yaml").write_text(
        "image: global\nresources: {cpu: '1', memory: 1Gi}\nbranchPrefix: g/\n"
    )
    (repo / ".kodama.yaml").write_text("image: repo\nresources: {cpu: '3'}\n")
    loaded = load_config(repo / "src" / "deep", {"resources": {"memory": "8Gi"}})
    cfg = loaded.config
    assert cfg.image == "repo"  # repo beats global
    assert cfg.resources.cpu == "3"  # repo beats global, field by field
    assert cfg.resources.memory == "8Gi"  # flag beats both
    assert cfg.branch_prefix == "g/"  # only global sets it
    assert [Path(s).name for s in loaded.sources] == ["config.yaml", ".kodama.yaml"]


def test_maps_merge_key_by_key_and_lists_replace() -> None:
    low = {
        "nodeSelector": {"a": "1", "b": "2"},
        "tolerations": [{"key": "x"}],
        "resources": {"extra": {"g": "1"}},
    }
    high = {
        "nodeSelector": {"b": "3"},
        "tolerations": [{"key": "y"}],
        "resources": {"extra": {"h": "2"}},
    }
    out = merge(low, high)
    assert out["nodeSelector"] == {"a": "1", "b": "3"}
    assert out["tolerations"] == [{"key": "y"}]
    assert out["resources"]["extra"] == {"g": "1", "h": "2"}


def test_sync_exclude_accumulates() -> None:
    out = merge(
        {"sync": {"exclude": ["node_modules"]}}, {"sync": {"exclude": ["dist", "node_modules"]}}
    )
    assert out["sync"]["exclude"] == ["node_modules", "dist"]


def test_none_in_higher_layer_does_not_erase() -> None:
    assert merge({"image": "a"}, {"image": None}) == {"image": "a"}


def test_repo_config_found_by_walking_up_to_git_root(repo: Path, tmp_path: Path) -> None:
    (repo / ".kodama.yaml").write_text("image: x\n")
    assert find_repo_config(repo / "src" / "deep") == repo / ".kodama.yaml"
    # Above the git root is not searched.
    (tmp_path / ".kodama.yaml").write_text("image: outside\n")
    inner = tmp_path / "other"
    (inner / ".git").mkdir(parents=True)
    assert find_repo_config(inner) is None


@pytest.mark.parametrize(
    ("text", "path", "line", "fragment"),
    [
        ("image: a\nbogus: 1\n", ("bogus",), 2, "unknown key"),
        ("resources:\n  cpu: lots\n", ("resources", "cpu"), 2, "not a Kubernetes quantity"),
        ("resources:\n  memory: -1Gi\n", ("resources", "memory"), 2, "greater than zero"),
        ("storage:\n  workspace: 10GB\n", ("storage", "workspace"), 2, "not a Kubernetes quantity"),
        ("resources:\n  extra:\n    'bad key!': 1\n", ("resources", "extra"), 2, "resource name"),
        ("namespace: Bad_NS\n", ("namespace",), 1, "DNS-1123"),
        ("sync:\n  mode: sometimes\n", ("sync", "mode"), 2, "two-way-safe"),
        ("timeout: 0\n", ("timeout",), 1, "greater than 0"),
        ("agent:\n  comand: x\n", ("agent", "comand"), 2, "unknown key"),
    ],
)
def test_bad_values_name_key_path_and_line(
    text: str, path: tuple[str, ...], line: int, fragment: str
) -> None:
    issues = layer_issues(parse_yaml_text(text, "f.yaml"))
    assert issues, text
    first = issues[0]
    assert first.path[: len(path)] == path
    assert first.line == line
    assert fragment in first.message


def test_yaml_syntax_error_names_file_and_line(home: Path, repo: Path) -> None:
    (repo / ".kodama.yaml").write_text("image: a\nresources: [\n")
    with pytest.raises(ConfigError) as err:
        load_config(repo)
    assert ".kodama.yaml:" in err.value.message and "invalid YAML" in err.value.message


def test_top_level_must_be_mapping() -> None:
    with pytest.raises(ConfigError, match=r"f\.yaml:1: expected a mapping"):
        parse_yaml_text("- a\n- b\n", "f.yaml")


def test_bad_flag_value_is_invalid_input(home: Path, repo: Path) -> None:
    with pytest.raises(InvalidInput, match=r"resources\.cpu"):
        load_config(repo, {"resources": {"cpu": "fast"}})


def test_schema_has_documented_keys() -> None:
    from kodama.config import json_schema

    schema = json_schema()
    assert "branchPrefix" in schema["properties"]
    assert Config.model_fields["image"].description


ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_is_refused(home: Path, repo: Path) -> None:
    (repo / ".kodama.yaml").write_text(ALIAS_BOMB)
    with pytest.raises(ConfigError, match=r"\.kodama\.yaml:\d+: expands to more than 10000 values"):
        load_config(repo)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("env: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 32 levels"),
        ("env: &x\n  a: *x\n", "recursive YAML alias"),
        ("x: " + "y" * (300 * 1024) + "\n", "larger than 256 KiB"),
    ],
)
def test_hostile_yaml_shapes_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_yaml_text(text, "f.yaml")


def test_ordinary_anchors_still_work() -> None:
    layer = parse_yaml_text("env: &e {A: '1'}\nx: *e\n", "f.yaml")
    assert layer.data["x"] == {"A": "1"}


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("image: x\ncredentials:\n  file: ~/.aws/credentials\n", "credentials", 2),
        ("git:\n  secretName: prod-deploy-key\n", "git", 1),
        ("git:\n  shipIgnored: true\n", "git", 1),
        ("tolerations:\n- operator: Exists\n", "tolerations", 1),
        ("nodeSelector: {pool: admin}\n", "nodeSelector", 1),
    ],
)
def test_repo_file_is_limited_to_an_allow_list(
    home: Path, repo: Path, text: str, key: str, line: int
) -> None:
    (repo / ".kodama.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(repo)
    assert f".kodama.yaml:{line}: {key}: not allowed in a repository's .kodama.yaml" in (
        err.value.message
    )
    # The same keys are fine in the user's own file.
    (repo / ".kodama.yaml").unlink()
    (home / "config.yaml").write_text(text)
    load_config(repo)


def test_repo_file_may_set_project_settings(home: Path, repo: Path) -> None:
    (repo / ".kodama.yaml").write_text(
        "resources: {cpu: '2'}\nstorage: {workspace: 20Gi}\nbranchPrefix: ai/\n"
        "sync: {exclude: [node_modules/]}\nagent: {command: claude --model opus}\n"
        "image: ghcr.io/x/y:1\nenv: {A: '1'}\ntimeout: 60\n"
    )
    loaded = load_config(repo)
    assert loaded.config.branch_prefix == "ai/"
    assert [c.key for c in loaded.repo_changes] == ["image", "agent.command", "env.A"]


def test_repo_changes_are_only_what_the_repo_file_decides(home: Path, repo: Path) -> None:
    (home / "config.yaml").write_text("image: mine\nenv: {A: '1'}\nnamespace: me\n")
    (repo / ".kodama.yaml").write_text(
        "image: mine\nenv: {A: '1', B: '2'}\nnamespace: shared\nagent: {command: evil}\n"
    )
    loaded = load_config(repo)
    assert [c.describe() for c in loaded.repo_changes] == [
        "agent.command: evil",
        "env.B: 2",
        "namespace: shared",
    ]
    (repo / ".kodama.yaml").write_text("agent: {interactivePermissionMode: bypassPermissions}\n")
    assert [c.describe() for c in load_config(repo).repo_changes] == [
        "agent.interactivePermissionMode: bypassPermissions"
    ]
    # A flag decides instead of the file: nothing to confirm for it.
    flagged = load_config(repo, {"agent": {"command": "claude"}})
    assert "agent.command" not in [c.key for c in flagged.repo_changes]


@pytest.mark.parametrize(
    ("tolerations", "fragment"),
    [
        ([{"key": "a", "operator": "Maybe"}], "operator must be Equal or Exists"),
        ([{"key": "a", "effect": "NoWay"}], "effect must be one of"),
        ([{"key": "bad key!", "operator": "Exists"}], "invalid toleration key"),
        ([{"key": "a", "value": "x", "operator": "Exists"}], "takes no value"),
        ([{"value": "x"}], "without a key must use operator Exists"),
        ([{"key": "a", "tolerationSeconds": 5}], "only with effect NoExecute"),
        ([{"key": "a", "bogus": 1}], "unknown toleration field 'bogus'"),
    ],
)
def test_tolerations_are_validated(tolerations: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Config.model_validate({"tolerations": tolerations})


def test_valid_tolerations_pass() -> None:
    ok = [
        {"operator": "Exists"},
        {"key": "gpu", "operator": "Equal", "value": "a100", "effect": "NoSchedule"},
        {"key": "x", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
    ]
    assert Config.model_validate({"tolerations": ok}).tolerations == ok


def test_sync_exclude_refuses_negations() -> None:
    issues = layer_issues(parse_yaml_text("sync:\n  exclude: [build/, '!.env']\n", "f.yaml"))
    assert issues and "negation" in issues[0].message and issues[0].line == 2


def test_start_needs_exactly_the_repo_changes_the_user_accepted(home: Path, tmp_path: Path) -> None:
    from kodama.engine import SessionEngine
    from kodama.errors import NeedsConfirmation
    from kodama.k8s.cluster import KubeTarget
    from kodama.models import StartRequest
    from kodama.store import Store
    from tests.fixtures.repo import make_repo

    repo = make_repo(tmp_path / "checkout")
    (repo / ".kodama.yaml").write_text("image: evil\n")

    class ClusterUsed(Exception):
        pass

    def no_cluster(_target: KubeTarget) -> None:  # past the question, start needs the cluster
        raise ClusterUsed

    def engine() -> SessionEngine:
        return SessionEngine(
            KubeTarget(namespace="dev"),
            cwd=repo,
            store=Store(home),
            cluster_factory=no_cluster,  # type: ignore[arg-type]
        )

    req = StartRequest(name="s", sync=False)
    with pytest.raises(NeedsConfirmation) as asked:
        engine().start(req)
    assert asked.value.changes == ["image: evil"]
    with pytest.raises(ClusterUsed):
        engine().start(req.model_copy(update={"accepted_repo_changes": asked.value.changes}))
    (repo / ".kodama.yaml").write_text("image: evil\nagent: {command: worse}\n")  # edited meanwhile
    with pytest.raises(NeedsConfirmation):
        engine().start(req.model_copy(update={"accepted_repo_changes": asked.value.changes}))
    with pytest.raises(ClusterUsed):
        engine().start(req.model_copy(update={"accept_repo_config": True}))


def test_every_mistake_in_one_line_with_suggestions(home: Path, repo: Path) -> None:
    """issue 21: two mistakes were reported as the first and "(and 1 more)", without hints."""
    (home / "config.yaml").write_text(
        "image: x\nagent:\n  comand: claude\nresources:\n  cpu: lots\n  memroy: 1Gi\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(repo)
    assert err.value.message == (
        f"{home / 'config.yaml'}: 3 problems: "
        "line 3 agent.comand: unknown key (did you mean command?); "
        "line 5 resources.cpu: invalid cpu: 'lots' is not a Kubernetes quantity (e.g. 500m, 2, 4Gi); "
        "line 6 resources.memroy: unknown key (did you mean memory?)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("agent:\n  comand: x\n", "f.yaml:2: agent.comand: unknown key (did you mean command?)"),
        ("branchprefix: x\n", "f.yaml:1: branchprefix: unknown key (did you mean branchPrefix?)"),
        ("zzz: 1\n", "f.yaml:1: zzz: unknown key"),
    ],
)
def test_one_mistake_keeps_file_line_form(text: str, expected: str) -> None:
    from kodama.config import validate_layer

    with pytest.raises(ConfigError) as err:
        validate_layer(parse_yaml_text(text, "f.yaml"))
    assert err.value.message == expected
