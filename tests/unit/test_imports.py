"""Start-up cost: `list` and `get` import only what they use (every verb paid for the rest)."""

from __future__ import annotations

import json
import subprocess
import sys

# What list/get never need: the kubernetes client (auth-provider kubeconfigs only), start's
# planning (git, dotenv), the ship payload's tarfile, fan-out.
HEAVY = (
    "kubernetes",
    "kodama.plan",
    "dotenv",
    "tarfile",
    "kodama.engine.fanout",
    "kodama.git.ship",
)


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_cli_and_the_engine_import_nothing_heavy() -> None:
    mods = loaded_after(
        "import kodama.cli.main\n"
        "from kodama.engine import SessionEngine\n"
        "from kodama.k8s.cluster import Cluster"
    )
    assert "kodama.engine.reads" in mods  # the probe did import the engine
    heavy = sorted(m for m in mods if m.split(".")[0] in HEAVY or m in HEAVY)
    assert heavy == []


# An empty `list`'s imports (issue 18: its row is Python start-up and imports): the CLI group,
# the list verb, the engine's reads, the REST client and the session files; none of the above,
# no pydantic (the models come with the first session), no other verb's module, no config files.
LIST_NEVER = (
    "pydantic",
    "kodama.models",
    "kodama.config",
    "kodama.engine.facade",
    "kodama.engine.lifecycle",
    "kodama.k8s.spec_check",
    "kodama.sync",
    "kodama.git",
    "websocket",
    "rich",
)


def never(mods: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in mods if any(m == n or m.startswith(n + ".") for n in names))


def test_an_empty_list_imports_no_pydantic_and_no_other_verb() -> None:
    mods = loaded_after(
        "import click\n"
        "from kodama.cli.main import cli\n"
        "cmd = cli.get_command(click.Context(cli), 'list')\n"
        "assert cmd is not None and cmd.name == 'list'\n"
        "from kodama.cli.context import Obj\n"
        "reader = Obj(namespace='ns').reader()\n"
        "assert hasattr(reader, 'list_sessions')\n"
        "import kodama.k8s.cluster"
    )
    assert {"kodama.engine.reads", "kodama.cli.session_cmds", "kodama.store"} <= mods
    assert never(mods, LIST_NEVER + HEAVY) == []
    verbs = {m for m in mods if m.startswith("kodama.cli.") and m.endswith("_cmds")}
    assert verbs == {"kodama.cli.session_cmds"}


def test_every_verb_is_in_the_lazy_table_with_its_module() -> None:
    import importlib
    import pkgutil

    import click

    import kodama.cli
    from kodama.cli.main import VERBS, cli

    found = {}
    for info in pkgutil.iter_modules(kodama.cli.__path__):
        if info.name.endswith("_cmds"):
            for command in importlib.import_module(f"kodama.cli.{info.name}").COMMANDS:
                found[command.name] = info.name
    assert found == VERBS
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(VERBS)
    assert all(cli.get_command(ctx, verb) is not None for verb in VERBS)
    assert cli.get_command(ctx, "nosuch") is None
