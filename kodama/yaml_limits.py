"""Bounds on config YAML, checked before anything walks the document.

PyYAML shares an anchor's node between its aliases, so composing a hostile file is cheap, but
everything after (constructing, validating, mapping keys to lines) walks the expanded tree.
"""

from __future__ import annotations

import yaml

from kodama.errors import ConfigError

# Config files are a few dozen lines. The bounds refuse hostile files (a 10-line alias bomb
# expands to hundreds of millions of values; deep nesting exhausts the composer's recursion) long
# before they cost anything, and are far above anything a real config needs.
MAX_YAML_CHARS = 256 * 1024
MAX_YAML_DEPTH = 32
MAX_YAML_VALUES = 10_000


def bounded_compose(text: str, source: str, loader: type[yaml.SafeLoader]) -> yaml.Node | None:
    """Compose `text` if its nesting and its size with aliases expanded stay within bounds."""
    if len(text) > MAX_YAML_CHARS:
        raise ConfigError(f"{source}: larger than {MAX_YAML_CHARS // 1024} KiB: not a config file")
    depth = 0
    # Events come from an iterative parser: depth is known before the recursive composer runs.
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise ConfigError(f"{source}:{line}: nested deeper than {MAX_YAML_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    node = yaml.compose(text, Loader=loader)
    if node is not None:
        _expanded_size(node, {}, set(), source)
    return node


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int], source: str) -> int:
    # An alias shares its anchor's node: sizes are memoised per node, so counting is linear in
    # the text while the total is what constructing and validating the data would walk.
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise ConfigError(f"{source}:{node.start_mark.line + 1}: recursive YAML alias")
    open_.add(key)
    total = 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, sizes, open_, source)
            total += _expanded_size(v, sizes, open_, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            total += _expanded_size(item, sizes, open_, source)
    if total > MAX_YAML_VALUES:
        raise ConfigError(
            f"{source}:{node.start_mark.line + 1}: expands to more than {MAX_YAML_VALUES} "
            "values (YAML aliases): refused"
        )
    open_.discard(key)
    sizes[key] = total
    return total
