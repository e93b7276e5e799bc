"""Pure validation of names, quantities, selectors: run before anything touches the cluster."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from kodama.errors import InvalidInput

# Session names become part of object names such as "kodama-NAME-workspace" (63 max).
MAX_SESSION_NAME = 40
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(\d+(\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
# A qualified name: optional DNS subdomain prefix + "/" + name (label keys, resource names).
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def validate_session_name(name: str) -> str:
    if not name:
        raise InvalidInput("session name must not be empty")
    if len(name) > MAX_SESSION_NAME:
        raise InvalidInput(
            f"invalid session name {name!r}: at most {MAX_SESSION_NAME} characters "
            f"(it is {len(name)})"
        )
    if not _DNS1123_LABEL.match(name):
        raise InvalidInput(
            f"invalid session name {name!r}: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def validate_namespace(ns: str) -> str:
    if len(ns) > 63 or not _DNS1123_LABEL.match(ns):
        raise InvalidInput(f"invalid namespace {ns!r}: must be a DNS-1123 label")
    return ns


def parse_quantity(value: str | int | float) -> Decimal:
    """Parse a Kubernetes quantity ("500m", "4Gi", "1e3") into a Decimal of base units."""
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    try:
        num = Decimal(m.group("num"))
    except InvalidOperation as exc:  # pragma: no cover - regex already guards this
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from exc
    suffix = m.group("suffix") or ""
    if suffix in _BINARY:
        return num * _BINARY[suffix]
    if suffix in _DECIMAL:
        return num * _DECIMAL[suffix]
    return num * (Decimal(10) ** int(suffix[1:]))


def validate_quantity(value: str | int | float, what: str, *, positive: bool = True) -> str:
    """Return the quantity as a string if valid; raise InvalidInput naming `what` otherwise."""
    try:
        amount = parse_quantity(value)
    except ValueError as exc:
        raise InvalidInput(f"invalid {what}: {exc}") from None
    if positive and amount <= 0:
        raise InvalidInput(f"invalid {what}: {value!r} must be greater than zero")
    if amount < 0:
        raise InvalidInput(f"invalid {what}: {value!r} must not be negative")
    return str(value).strip()


def validate_qualified_name(key: str, what: str) -> str:
    """Label keys and extended resource names: [prefix/]name."""
    prefix, slash, name = key.rpartition("/")
    ok = (
        not (slash and not prefix)
        and bool(name)
        and len(name) <= 63
        and bool(_QUALIFIED_NAME.match(name))
        and (not prefix or (len(prefix) <= 253 and bool(_DNS1123_SUBDOMAIN.match(prefix))))
    )
    if not ok:
        raise InvalidInput(f"invalid {what} {key!r}: expected [prefix/]name, e.g. nvidia.com/gpu")
    return key


def validate_label_value(value: str, what: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise InvalidInput(f"invalid {what} value {value!r}")
    return value


def validate_env_name(name: str, what: str = "environment variable") -> str:
    if not _ENV_NAME.match(name):
        raise InvalidInput(f"invalid {what} name {name!r}")
    return name


def parse_key_value(text: str, what: str) -> tuple[str, str]:
    """Parse "k=v" (flags such as --resource and --node-selector)."""
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise InvalidInput(f"invalid {what} {text!r}: expected KEY=VALUE")
    return key.strip(), value.strip()


_TOLERATION = re.compile(
    r"^(?P<key>[^=:]+)?(?:=(?P<value>[^:]*))?(?::(?P<effect>NoSchedule|PreferNoSchedule|NoExecute))?$"
)


def parse_toleration(text: str) -> dict[str, str]:
    """Parse kubectl-taint-like syntax: key[=value][:Effect]; "key:Effect" means Exists."""
    m = _TOLERATION.match(text.strip())
    if not m or not m.group("key"):
        raise InvalidInput(
            f"invalid toleration {text!r}: expected key[=value][:NoSchedule|PreferNoSchedule|NoExecute]"
        )
    key = validate_qualified_name(m.group("key"), "toleration key")
    tol: dict[str, str] = {"key": key}
    if m.group("value") is not None:
        tol["operator"] = "Equal"
        tol["value"] = validate_label_value(m.group("value"), "toleration")
    else:
        tol["operator"] = "Exists"
    if m.group("effect"):
        tol["effect"] = m.group("effect")
    return tol


_TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}
_EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}


def validate_toleration(t: dict[str, Any]) -> dict[str, Any]:
    """A pod toleration as Kubernetes accepts it; checked here so a bad one never reaches the API."""
    unknown = set(t) - _TOLERATION_KEYS
    if unknown:
        raise InvalidInput(f"unknown toleration field {sorted(unknown)[0]!r}")
    key, op, value, effect = (
        t.get("key"),
        t.get("operator", "Equal"),
        t.get("value"),
        t.get("effect"),
    )
    if op not in ("Equal", "Exists"):
        raise InvalidInput(f"toleration operator must be Equal or Exists, not {op!r}")
    if key is not None:
        if not isinstance(key, str):
            raise InvalidInput("toleration key must be a string")
        if key:
            validate_qualified_name(key, "toleration key")
    if not key and op != "Exists":
        raise InvalidInput("a toleration without a key must use operator Exists")
    if value is not None:
        if op == "Exists" and value != "":
            raise InvalidInput("a toleration with operator Exists takes no value")
        if not isinstance(value, str):
            raise InvalidInput("toleration value must be a string")
        validate_label_value(value, "toleration")
    if effect not in (None, "", *_EFFECTS):
        raise InvalidInput(f"toleration effect must be one of {', '.join(sorted(_EFFECTS))}")
    seconds = t.get("tolerationSeconds")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int) or effect != "NoExecute"
    ):
        raise InvalidInput("tolerationSeconds must be an integer, and only with effect NoExecute")
    return t


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_timeout(text: str) -> float:
    """`90`, `90s`, `2m`, `1h30m`, `1m30s` -> seconds (kubectl wait's --timeout spelling)."""
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise InvalidInput(f"invalid --timeout {text!r}: use e.g. 30s, 5m, 1h")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s
