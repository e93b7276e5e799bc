"""The real Claude Code (pinned in images/agent/Dockerfile) in session pods on the real node.

Claude Code talks to tests/fixtures/messages_api.py, a local stand-in for the Anthropic Messages
API, set through Kodama's own `env` configuration; the dummy API key goes the normal credentials
path (the user's environment -> the session's Secret -> secretKeyRef).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.messages_api import MessagesApi, user_texts

from .conftest import Kodama, new_kodama, poll, session_config, session_image

pytestmark = pytest.mark.cluster

API_KEY = "sk-ant-api03-kodama-test-" + "Q7xv2LmN9pR4sT6uW8yZ0aB"
OAUTH_TOKEN = "sk-ant-oat01-kodama-test-" + "H3jK5mN7pQ9rS1tU3vW5xY7"
PROMPT_MARK = "\u276f"  # Claude Code's input prompt


@pytest.fixture
def claude(
    testenv: Any, namespace: str, tmp_path: Path, messages_api: MessagesApi
) -> Iterator[Kodama]:
    image = session_image(testenv)
    config = session_config(
        image, None, cpu="250m", memory="768Mi", env=claude_env(messages_api.url)
    )
    k = new_kodama(testenv, namespace, tmp_path, config)
    k.env["ANTHROPIC_API_KEY"] = API_KEY
    messages_api.clear()
    messages_api.script([])
    yield k


def claude_env(api_url: str) -> dict[str, str]:
    """Session env for Claude Code against the Messages API stub, quiet otherwise."""
    return {
        "ANTHROPIC_BASE_URL": api_url,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
    }


def prompts_seen(api: MessagesApi) -> list[str]:
    return [text for req in api.requests() for text in user_texts(req)]


def attach(k: Kodama, name: str) -> Any:
    """`kubectl kodama attach NAME` in a real pseudo-terminal."""
    pexpect = pytest.importorskip("pexpect")
    argv = k.argv("attach", name)
    child = pexpect.spawn(
        argv[0],
        argv[1:],
        cwd=str(k.cwd),
        env={**k.environ(), "TERM": "xterm-256color"},
        dimensions=(40, 140),
        timeout=60,
        encoding="utf-8",
        codec_errors="replace",
    )
    return child


# Answers are single words: a terminal redraw may put cursor moves where the spaces were.


def detach(child: Any) -> None:
    child.sendcontrol("b")
    child.send("d")
    child.expect(r"detached", timeout=30)
    child.wait()


def say(child: Any, text: str) -> None:
    """Type `text` at Claude Code's prompt, then Enter apart: sent together they read as a paste."""
    child.send(text)
    time.sleep(0.5)
    child.send("\r")


def tell_the_word(claude: Kodama, messages_api: MessagesApi) -> None:
    """A headless run of session cc is told a word; it has exited when this returns."""
    messages_api.script([{"content": [{"type": "text", "text": "I will remember kiwi."}]}])
    claude.run("start", "cc", "--prompt", "remember the word kiwi")
    claude.run("wait", "cc", "--for=exited", "--timeout", "120")


def ask_for_the_word(claude: Kodama, messages_api: MessagesApi) -> None:
    """Attach to the resumed cc and ask for the word."""
    messages_api.clear()
    messages_api.script([{"content": [{"type": "text", "text": "The-word-was-kiwi."}]}])
    child = attach(claude, "cc")
    try:
        child.expect(PROMPT_MARK, timeout=60)
        say(child, "what was the word")
        child.expect("The-word-was-kiwi", timeout=60)
        detach(child)
    finally:
        child.close(force=True)
    # Claude Code sent the earlier conversation again: it continued, not started anew.
    seen = prompts_seen(messages_api)
    assert "what was the word" in seen and "remember the word kiwi" in seen, seen


def test_headless_prompt_edits_the_workspace(claude: Kodama, messages_api: MessagesApi) -> None:
    # A prompt that starts with "-" and is larger than one command-line argument may be.
    prompt = "--please write hello.txt " + "y" * 200_000
    (claude.cwd.parent / "prompt.txt").write_text(prompt)
    messages_api.script(
        [
            {
                "content": [
                    {"type": "text", "text": "Writing the file."},
                    {
                        "type": "tool_use",
                        "name": "Write",
                        "input": {
                            "file_path": "/workspace/hello.txt",
                            "content": "hi from claude\n",
                        },
                    },
                ]
            },
            {"content": [{"type": "text", "text": "Done writing."}]},
        ]
    )
    claude.run("start", "cc", "--prompt-file", str(claude.cwd.parent / "prompt.txt"))
    claude.run("wait", "cc", "--for=exited", "--timeout", "120")
    assert claude.json("get", "cc")["agent"]["exitCode"] == 0
    body = claude.run("attach", "cc", "--", "cat", "/workspace/hello.txt").stdout
    assert body == "hi from claude\n"  # acceptEdits by default for headless runs
    logs = claude.run("logs", "cc").stdout
    assert "Write" in logs and "Done writing." in logs, logs
    raw = claude.run("logs", "cc", "--raw").stdout
    assert any(
        json.loads(line).get("type") == "result" for line in raw.splitlines() if line[:1] == "{"
    )
    assert prompt in prompts_seen(messages_api)
    heads = [r["headers"] for r in messages_api.requests()]
    assert heads and all(h.get("x-api-key") == f"<redacted:{API_KEY[-4:]}>" for h in heads)


@pytest.mark.parametrize("credential", ["api-key", "oauth-token"])
def test_attach_lands_at_claudes_prompt(
    claude: Kodama, messages_api: MessagesApi, credential: str
) -> None:
    if credential == "oauth-token":
        claude.env.pop("ANTHROPIC_API_KEY")
        claude.env["CLAUDE_CODE_OAUTH_TOKEN"] = OAUTH_TOKEN
    messages_api.script([{"content": [{"type": "text", "text": "Hello-from-the-stand-in-API."}]}])
    claude.run("start", "cc")
    child = attach(claude, "cc")
    try:
        child.expect(PROMPT_MARK, timeout=60)
        screen = child.before or ""
        for first_run in ("trust", "Detected a custom API key", "Choose the text style", "login"):
            assert first_run not in screen, screen[-2000:]
        say(child, "say hello please")
        child.expect("Hello-from-the-stand-in-API", timeout=60)
        detach(child)
    finally:
        child.close(force=True)
    assert "say hello please" in prompts_seen(messages_api)
    if credential == "oauth-token":
        return
    # Detached, Claude Code keeps running in tmux inside the image; attaching again finds the
    # same process with its screen.
    run = json.loads(
        claude.run("attach", "cc", "--", "cat", "/home/kodama/.kodama/agent-run.json").stdout
    )
    assert run["endedAt"] is None
    child = attach(claude, "cc")
    try:
        child.expect("Hello-from-the-stand-in-API", timeout=60)
        detach(child)
    finally:
        child.close(force=True)
    again = json.loads(
        claude.run("attach", "cc", "--", "cat", "/home/kodama/.kodama/agent-run.json").stdout
    )
    assert again["pid"] == run["pid"] and again["endedAt"] is None
    # `attach -- CMD` runs in the workspace, inside the container, and passes its exit code.
    assert claude.run("attach", "cc", "--", "sh", "-c", "exit 7", check=False).returncode == 7
    assert claude.run("attach", "cc", "--", "id", "-u").stdout.strip() == "1000"
    assert claude.run("attach", "cc", "--", "pwd").stdout.strip() == "/workspace"


def test_agent_state_follows_the_real_hooks(claude: Kodama, messages_api: MessagesApi) -> None:
    messages_api.script(
        [
            {
                "content": [
                    {"type": "text", "text": "Let me run it."},
                    {
                        "type": "tool_use",
                        "name": "Bash",
                        "input": {
                            "command": "mkdir -p /workspace/made-by-tool && echo ran-the-tool",
                            "description": "Make a folder",
                        },
                    },
                ]
            },
            {"content": [{"type": "text", "text": "All-done-after-the-tool."}]},
        ]
    )
    # Default permission mode: Claude Code asks before running Bash.
    claude.run("start", "cc", "--permission-mode", "default")
    assert claude.json("get", "cc")["agent"]["state"] in ("idle", "starting")
    child = attach(claude, "cc")
    try:
        child.expect(PROMPT_MARK, timeout=60)
        say(child, "run the echo")
        poll(lambda: claude.json("get", "cc")["agent"]["state"] == "working", 30, 0.3)
        claude.run("wait", "cc", "--for=waiting", "--timeout", "60")
        waiting = claude.json("get", "cc")["agent"]
        assert "permission" in (waiting.get("message") or "").lower(), waiting
        child.send("\r")  # the dialog's first choice: yes
        claude.run("wait", "cc", "--for=idle", "--timeout", "60")
        child.expect("All-done-after-the-tool", timeout=30)
        say(child, "/exit")
        claude.run("wait", "cc", "--for=exited", "--timeout", "60")
        child.expect(r"\[exited\]|detached|$", timeout=30)
    finally:
        child.close(force=True)
    results = [t for t in prompts_seen(messages_api) if "ran-the-tool" in t]
    assert results, "the Bash tool's output did not reach the API"


def test_resume_continues_the_conversation(claude: Kodama, messages_api: MessagesApi) -> None:
    tell_the_word(claude, messages_api)
    claude.run("stop", "cc")
    claude.run("resume", "cc")
    ask_for_the_word(claude, messages_api)


def test_a_missing_agent_fails_start_and_attach_says_why(claude: Kodama, testenv: Any) -> None:
    (claude.home / "config.yaml").write_text(
        (claude.home / "config.yaml").read_text() + "agent:\n  command: claude-not-installed\n"
    )
    proc = claude.run("start", "cc", check=False)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors and errors[0].startswith(
        "error: the agent (claude-not-installed) exited at once with code 127"
    ), proc.stderr
    assert '"claude-not-installed" was not found in this image' in proc.stderr
    # The session is kept, Running, and can be attached to (which says the same) or deleted.
    assert claude.json("get", "cc")["status"] == "Running"
    again = claude.run("attach", "cc", check=False)
    assert again.returncode == 1 and "exited at once with code 127" in again.stderr
    claude.run("delete", "cc", "--yes")
    assert testenv.managed(claude.namespace) == []


def test_the_api_key_stays_in_the_secret(
    claude: Kodama, messages_api: MessagesApi, testenv: Any
) -> None:
    messages_api.script([{"content": [{"type": "text", "text": "ok then"}]}])
    outputs = [claude.run("start", "cc", "--prompt", "hi", "-o", "json").stdout]
    claude.run("wait", "cc", "--for=exited", "--timeout", "120")
    for args in (("get", "cc", "-o", "json"), ("list", "-o", "wide"), ("logs", "cc", "--raw")):
        proc = claude.run(*args)
        outputs += [proc.stdout, proc.stderr]
    outputs.append(
        testenv.kubectl("get", "pod", "kodama-cc", "-n", claude.namespace, "-o", "json").stdout
    )
    tail = API_KEY[-20:]
    for text in outputs:
        assert API_KEY not in text and tail not in text
    for path in claude.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert API_KEY.encode() not in data and tail.encode() not in data, path
    # The stub recorded headers with the key redacted, and no message carried it.
    assert "sk-ant-api03" not in json.dumps(messages_api.requests())
    # ... while Claude Code in the pod did approve it, by its tail, on the home PVC.
    approved = claude.run(
        "attach",
        "cc",
        "--",
        "sh",
        "-c",
        'grep -c "$(printf %s "$ANTHROPIC_API_KEY" | tail -c 20)" "$HOME/.claude.json"',
    ).stdout
    assert approved.strip() == "1"
