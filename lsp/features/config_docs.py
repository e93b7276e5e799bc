"""Kodama config files as a language: diagnostics, key completion and hover.

Applies to `.kodama.yaml` (any folder) and `$KODAMA_HOME/config.yaml`. Validation is
kodama.config's (the CLI's rules, same messages); this module only maps key paths and lines to
LSP positions. Completion and hover work on the text as typed, by indentation, because the
document is often not valid YAML while the user types.
"""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types

from kodama.config import (
    REPO_CONFIG_NAME,
    ConfigKey,
    config_key,
    config_keys,
    global_config_path,
    layer_issues,
    parse_yaml_text,
)
from kodama.errors import ConfigError

SOURCE = "kodama"
_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<dash>-\s+)?(?P<key>[A-Za-z_][\w.-]*)\s*:(?P<rest>.*)$")
_YAML_LINE = re.compile(r":(\d+): ")


def is_config_path(path: Path) -> bool:
    if path.name == REPO_CONFIG_NAME:
        return True
    try:
        return path.resolve() == global_config_path().resolve()
    except OSError:
        return False


# -- diagnostics ----------------------------------------------------------------------------------


def diagnostics(text: str, source: str) -> list[types.Diagnostic]:
    lines = text.splitlines()
    try:
        layer = parse_yaml_text(text, source)
    except ConfigError as exc:
        message = exc.message.removeprefix(source)
        m = _YAML_LINE.match(message)
        line = int(m.group(1)) if m else 1
        message = message[m.end() :] if m else message.lstrip(": ")
        return [_diagnostic(lines, line, message)]
    out: list[types.Diagnostic] = []
    for issue in layer_issues(layer, repo=Path(source).name == REPO_CONFIG_NAME):
        where = issue.dotted()
        out.append(_diagnostic(lines, issue.line or 1, f"{where}: {issue.message}"))
    return out


def _diagnostic(lines: list[str], line: int, message: str) -> types.Diagnostic:
    index = max(0, min(line - 1, len(lines) - 1)) if lines else 0
    text = lines[index] if lines else ""
    m = _KEY_LINE.match(text)
    start = m.start("key") if m else len(text) - len(text.lstrip())
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=index, character=start),
            end=types.Position(line=index, character=len(text)),
        ),
        message=message,
        severity=types.DiagnosticSeverity.Error,
        source=SOURCE,
    )


# -- key paths from indentation ---------------------------------------------------------------------


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _meaningful(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def parent_path(lines: list[str], line: int, indent: int) -> list[str] | None:
    """Keys of the mappings enclosing a key at (`line`, `indent`); None inside lists or values."""
    path: list[str] = []
    for i in range(min(line, len(lines)) - 1, -1, -1):
        if indent == 0:
            break
        text = lines[i]
        if not _meaningful(text) or _indent(text) >= indent:
            continue
        m = _KEY_LINE.match(text)
        if m is None or m.group("dash") or m.group("rest").split("#", 1)[0].strip():
            return None  # a list item or a scalar: not a mapping of known keys
        path.insert(0, m.group("key"))
        indent = _indent(text)
    return path


# -- completion -------------------------------------------------------------------------------------


def completion(text: str, position: types.Position) -> types.CompletionList | None:
    lines = text.splitlines()
    current = lines[position.line] if position.line < len(lines) else ""
    prefix = current[: position.character]
    if ":" in prefix or prefix.lstrip().startswith(("-", "#")):
        return None  # a value, a list item or a comment: not a key
    indent = _indent(prefix)
    parents = parent_path(lines, position.line, indent)
    if parents is None:
        return None
    keys = config_keys(parents)
    if not keys:
        return None
    present = _sibling_keys(lines, position.line, indent)
    items = [_item(k) for k in keys if k.name not in present]
    return types.CompletionList(is_incomplete=False, items=items)


def _sibling_keys(lines: list[str], line: int, indent: int) -> set[str]:
    """Keys already written in the same mapping (so completion does not offer duplicates)."""
    found: set[str] = set()
    for step in (-1, 1):
        i = line + step
        while 0 <= i < len(lines):
            text = lines[i]
            i += step
            if not _meaningful(text):
                continue
            if _indent(text) < indent:
                break
            m = _KEY_LINE.match(text)
            if m and _indent(text) == indent and not m.group("dash"):
                found.add(m.group("key"))
    return found


def _item(key: ConfigKey) -> types.CompletionItem:
    return types.CompletionItem(
        label=key.name,
        kind=types.CompletionItemKind.Module if key.section else types.CompletionItemKind.Property,
        detail=key.kind,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=key.description),
        insert_text=f"{key.name}:" if key.section else f"{key.name}: ",
    )


# -- hover ------------------------------------------------------------------------------------------


def hover(text: str, position: types.Position) -> types.Hover | None:
    lines = text.splitlines()
    if position.line >= len(lines):
        return None
    m = _KEY_LINE.match(lines[position.line])
    if m is None or m.group("dash") or not m.start("key") <= position.character <= m.end("key"):
        return None
    parents = parent_path(lines, position.line, len(m.group("indent")))
    if parents is None:
        return None
    key = config_key([*parents, m.group("key")])
    if key is None:
        return None
    dotted = ".".join([*parents, key.name])
    body = f"**{dotted}** ({key.kind})\n\n{key.description}".rstrip()
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=body),
        range=types.Range(
            start=types.Position(line=position.line, character=m.start("key")),
            end=types.Position(line=position.line, character=m.end("key")),
        ),
    )
