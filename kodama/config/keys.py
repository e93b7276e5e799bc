"""The config keys as editors see them: completion and hover of config files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from kodama.config.models import Config


@dataclass(frozen=True)
class ConfigKey:
    """One key a config file may hold at some mapping path, as it is spelled in the file."""

    name: str  # camelCase, as written in YAML
    kind: str  # short type label: string, number, boolean, map, list, section, one of …
    description: str
    section: bool  # a mapping of known keys (config_keys() of its path lists them)


def _model_at(path: tuple[str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in path:
        field = _field(model, part)
        if field is None:
            return None
        sub = _sub_model(field.annotation)
        if sub is None:
            return None
        model = sub
    return model


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _sub_model(annotation: Any) -> type[BaseModel] | None:
    if getattr(annotation, "__origin__", None) is dict:
        return None  # a map of models (pricing.models): its keys are the user's own names
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _kind(annotation: Any) -> str:
    if _sub_model(annotation) is not None:
        return "section"
    origin = getattr(annotation, "__origin__", None)
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in annotation.__args__)
    if origin is dict:
        return "map"
    if origin is list:
        return "list"
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    base = args[0] if args else annotation
    return {str: "string", bool: "boolean", float: "number", int: "integer"}.get(base, "value")


def config_keys(path: tuple[str, ...] | list[str] = ()) -> list[ConfigKey] | None:
    """Keys allowed in the mapping at `path` (e.g. ("resources",)); None if not a known section."""
    model = _model_at(tuple(path))
    if model is None:
        return None
    out: list[ConfigKey] = []
    for name, info in model.model_fields.items():
        sub = _sub_model(info.annotation)
        doc = info.description or (sub.__doc__ or "" if sub is not None else "")
        out.append(
            ConfigKey(info.alias or name, _kind(info.annotation), doc.strip(), sub is not None)
        )
    return out


def config_key(path: tuple[str, ...] | list[str]) -> ConfigKey | None:
    """The key at `path` (its last element), or None when it is not a known key."""
    if not path:
        return None
    keys = config_keys(tuple(path[:-1])) or []
    return next((k for k in keys if path[-1] in (k.name, snake_key(k.name))), None)


def snake_key(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
