from __future__ import annotations

from decimal import Decimal

import pytest

from kodama.errors import InvalidInput
from kodama.k8s.manifests import home_pvc_name, workspace_pvc_name
from kodama.validation import (
    MAX_SESSION_NAME,
    parse_key_value,
    parse_quantity,
    parse_toleration,
    validate_qualified_name,
    validate_quantity,
    validate_session_name,
)


@pytest.mark.parametrize("name", ["a", "fix-login", "x1", "a" * MAX_SESSION_NAME])
def test_good_names(name: str) -> None:
    assert validate_session_name(name) == name
    assert len(workspace_pvc_name(name)) <= 63 and len(home_pvc_name(name)) <= 63


@pytest.mark.parametrize(
    "name", ["", "Fix", "-a", "a-", "a_b", "a.b", "a" * (MAX_SESSION_NAME + 1), "ü"]
)
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidInput):
        validate_session_name(name)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("4Gi", Decimal(4 * 2**30)),
        ("1e3", Decimal(1000)),
        ("1.5k", Decimal(1500)),
    ],
)
def test_quantities(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "4GB", "1.2.3", "Gi", "--1"])
def test_bad_quantities(text: str) -> None:
    with pytest.raises(InvalidInput):
        validate_quantity(text, "memory")


def test_zero_quantity_rejected() -> None:
    with pytest.raises(InvalidInput, match="greater than zero"):
        validate_quantity("0", "cpu")


@pytest.mark.parametrize("key", ["nvidia.com/gpu", "gpu", "example.com/a_b"])
def test_qualified_names(key: str) -> None:
    assert validate_qualified_name(key, "resource") == key


@pytest.mark.parametrize("key", ["", "/gpu", "Bad_Domain.com/x", "a/b/c", "x" * 64])
def test_bad_qualified_names(key: str) -> None:
    with pytest.raises(InvalidInput):
        validate_qualified_name(key, "resource")


def test_tolerations() -> None:
    assert parse_toleration("gpu:NoSchedule") == {
        "key": "gpu",
        "operator": "Exists",
        "effect": "NoSchedule",
    }
    assert parse_toleration("team=ml:NoExecute") == {
        "key": "team",
        "operator": "Equal",
        "value": "ml",
        "effect": "NoExecute",
    }
    assert parse_toleration("dedicated") == {"key": "dedicated", "operator": "Exists"}
    with pytest.raises(InvalidInput):
        parse_toleration("a:Sometimes")


def test_key_value() -> None:
    assert parse_key_value("a=b", "x") == ("a", "b")
    for bad in ("a", "=b", "a="):
        with pytest.raises(InvalidInput):
            parse_key_value(bad, "x")
