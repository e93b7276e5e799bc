"""What Claude Code would have stored after a user accepted its first-run screens (pure).

A fresh HOME makes an interactive `claude` stop at three screens before its prompt: onboarding
(whose preflight calls api.anthropic.com directly and fails offline or behind a proxy), "do you
trust this folder?" and "use this custom API key?". Kodama starts the agent on the user's behalf,
in a workspace it made itself, with a key the user gave it, so it records the same answers in
`~/.claude.json` on the session's home PVC.

The key itself never leaves the pod: Claude Code remembers an approved key by its last 20
characters, which the in-pod writer substitutes for `KEY_TAIL_PLACEHOLDER`. Choices the user made
(a key they declined, a folder's other settings) are kept as they are.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

KEY_TAIL_PLACEHOLDER = "@KODAMA_API_KEY_TAIL@"


class KeyStatus(StrEnum):
    """Where the session's ANTHROPIC_API_KEY stands in ~/.claude.json (decided in the pod)."""

    NONE = "none"  # no API key in the pod's environment (OAuth token, or nothing)
    NEW = "new"  # neither approved nor declined yet
    APPROVED = "approved"
    REJECTED = "rejected"  # the user declined it in Claude Code: respected
    ODD = "odd"  # characters Claude Code's list could not hold verbatim: left alone


def merge_first_run(
    text: str | None, workspace: str, key: KeyStatus
) -> tuple[str | None, str | None]:
    """Mark onboarding done, `workspace` trusted and a new key approved in ~/.claude.json.

    Returns (new text or None when nothing changes, warning or None). Idempotent.
    """
    data: Any = {}
    if text is not None and text.strip():
        try:
            data = json.loads(text)
        except ValueError:
            return None, (
                "~/.claude.json in the pod is not valid JSON; Claude Code may show its first-run "
                "screens when you attach"
            )
    if not isinstance(data, dict):
        return None, "~/.claude.json in the pod is not a JSON object; first-run screens not skipped"
    before = json.dumps(data, sort_keys=True)
    warning = None
    if data.get("hasCompletedOnboarding") is not True:
        data["hasCompletedOnboarding"] = True
    projects = data.get("projects")
    if not isinstance(projects, dict):
        projects = data["projects"] = {}
    project = projects.get(workspace)
    if not isinstance(project, dict):
        project = projects[workspace] = {}
    if project.get("hasTrustDialogAccepted") is not True:
        project["hasTrustDialogAccepted"] = True
    if key == KeyStatus.NEW:
        responses = data.get("customApiKeyResponses")
        if not isinstance(responses, dict):
            responses = data["customApiKeyResponses"] = {}
        approved = responses.get("approved")
        if not isinstance(approved, list):
            approved = responses["approved"] = []
        if not isinstance(responses.get("rejected"), list):
            responses["rejected"] = []
        approved.append(KEY_TAIL_PLACEHOLDER)
    elif key == KeyStatus.REJECTED:
        warning = (
            "this session's Claude Code was told not to use the API key; it will ask again "
            "(or use its own login) when you attach"
        )
    if json.dumps(data, sort_keys=True) == before:
        return None, warning
    return json.dumps(data, indent=2) + "\n", warning
