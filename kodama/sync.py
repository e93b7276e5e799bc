"""Two-way file sync with mutagen over kubectl exec (placeholder until the sync work lands)."""

from __future__ import annotations

from .events import CancelToken, Reporter
from .models import SyncStatus
from .runtime import PodContext


def available() -> bool:
    return False


def start(ctx: PodContext, reporter: Reporter, cancel: CancelToken) -> SyncStatus | None:
    return None


def stop(namespace: str, name: str) -> None:
    return None


def status(namespace: str, name: str) -> SyncStatus | None:
    return None
