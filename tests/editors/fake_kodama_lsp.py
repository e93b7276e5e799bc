"""A stand-in for kodama-lsp that speaks docs/lsp-protocol.md without a cluster.

It lets the Neovim client be tested on its own: every message it receives is appended as a JSON
line to $FAKE_KODAMA_LOG, and it plays the server's side of each command (progress, the
``kodama/openTerminal`` request, notifications). Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# Which verbs each status offers: the engine's rule, as tests/fixtures/presentation.json pins it.
_GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "presentation.json"
ACTIONS = {
    c["session"]["status"]: c["display"]["actions"]
    for c in json.loads(_GOLDEN.read_text())["sessions"]
}

# What the real server advertises: the test passes its registry (lsp/features/registry.py) in.
COMMANDS: list[str] = json.loads(os.environ["FAKE_KODAMA_COMMANDS"])


class Server:
    def __init__(self) -> None:
        self.stdin = sys.stdin.buffer
        self.stdout = sys.stdout.buffer
        self.log_path = os.environ.get("FAKE_KODAMA_LOG")
        self.next_id = 0
        self.pending: list[dict[str, Any]] = []
        self.client_caps: dict[str, Any] = {}
        self.sessions: dict[str, dict[str, Any]] = {}

    # -- framing -----------------------------------------------------------------------------
    def read(self) -> dict[str, Any] | None:
        length = None
        while True:
            line = self.stdin.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None
        msg: dict[str, Any] = json.loads(self.stdin.read(length))
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(msg) + "\n")
        return msg

    def send(self, msg: dict[str, Any]) -> None:
        msg["jsonrpc"] = "2.0"
        body = json.dumps(msg).encode()
        self.stdout.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.stdout.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        """Sends a request to the client and waits for its answer (other messages are queued)."""
        self.next_id += 1
        rid = f"srv-{self.next_id}"
        self.send({"id": rid, "method": method, "params": params})
        while True:
            msg = self.read()
            if msg is None:
                raise SystemExit(0)
            if msg.get("id") == rid and "method" not in msg:
                return msg.get("result")
            self.pending.append(msg)

    # -- the protocol ----------------------------------------------------------------------------
    def session(self, name: str, status: str = "Running") -> dict[str, Any]:
        return {
            "name": name,
            "namespace": "fake-ns",
            "context": "fake-ctx",
            "status": status,
            "reason": None,
            "image": "agent:test",
            "branch": f"kodama/{name}",
            "baseBranch": "main",
            "baseCommit": "0123456789abcdef",
            "repo": None,
            "localPath": os.getcwd(),
            "createdAt": "2026-01-01T00:00:00Z",
            "agent": {"state": "working", "message": None, "since": None, "exitCode": None},
            "sync": None,
            "display": self.display(name, status),
        }

    @staticmethod
    def display(name: str, status: str) -> dict[str, Any]:
        """The server's words (kodama/present.py's shape; short, since nobody reads a fake's)."""
        return {
            "status": status,
            "age": "1d",
            "agent": "working",
            "sync": "off",
            "actions": ACTIONS[status],
            "detail": [f"Name:        {name}", f"Status:      {status}", "Sync:        off"],
        }

    def progress(self, title: str, steps: list[str]) -> None:
        token = f"tok-{self.next_id + 1}"
        if self.client_caps.get("window", {}).get("workDoneProgress"):
            self.request("window/workDoneProgress/create", {"token": token})
        self.notify("$/progress", {"token": token, "value": {"kind": "begin", "title": title}})
        for step in steps:
            self.notify(
                "$/progress", {"token": token, "value": {"kind": "report", "message": step}}
            )
        self.notify("$/progress", {"token": token, "value": {"kind": "end", "message": "done"}})

    def sessions_changed(self) -> None:
        self.notify("kodama/sessionsChanged", {"sessions": list(self.sessions.values())})

    def missing(self, name: str) -> dict[str, Any]:
        message = f'session "{name}" not found'
        self.notify("window/showMessage", {"type": 1, "message": message})
        return {"code": -32603, "message": message}

    def execute(self, command: str, arg: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        name = arg.get("name", "")
        if command == "kodama.session.suggestName":
            return {"name": "suggested-name"}, None
        if command == "kodama.session.list":
            return list(self.sessions.values()), None
        if command == "kodama.config.view":
            return {
                "text": "image: agent:test\nnamespace: fake-ns\n",
                "sources": ["/fake/config.yaml"],
            }, None
        if command == "kodama.rbac.show":
            return {
                "text": f"kind: Role\n---\nuser: {arg.get('user')}\n",
                "namespace": "fake-ns",
            }, None
        if command == "kodama.session.start":
            self.progress(f"Starting {name}", ["creating volumes", "waiting for the pod"])
            self.sessions[name] = self.session(name)
            self.sessions_changed()
            self.notify(
                "kodama/agentState",
                {
                    "name": name,
                    "namespace": "fake-ns",
                    "state": "waiting",
                    "message": "Allow Bash?",
                    "since": None,
                    "exitCode": None,
                },
            )
            return self.sessions[name], None
        if name not in self.sessions:
            return None, self.missing(name)
        if command == "kodama.session.get":
            return self.sessions[name], None
        if command in ("kodama.session.stop", "kodama.session.resume"):
            status = "Stopped" if command.endswith("stop") else "Running"
            # The real server's titles start with "Kodama: " (clients must not add it twice).
            self.progress(f"Kodama: {command.rsplit('.', 1)[1]} {name}", ["pod"])
            self.sessions[name]["status"] = status
            self.sessions[name]["display"] = self.display(name, status)
            return self.sessions[name], None
        if command == "kodama.session.delete":
            if not arg.get("confirm"):
                return {"deleted": False}, None
            del self.sessions[name]
            return {"deleted": True}, None
        if command == "kodama.session.attach":
            argv = [
                sys.executable,
                "-c",
                f"import time; print('attached to {name}'); time.sleep(60)",
            ]
            opened = False
            if self.client_caps.get("experimental", {}).get("kodama", {}).get("openTerminal"):
                result = self.request(
                    "kodama/openTerminal",
                    {"title": f"kodama: {name}", "argv": argv, "cwd": os.getcwd()},
                )
                opened = bool(result and result.get("opened"))
            return {"argv": argv, "opened": opened}, None
        if command == "kodama.session.fetch":
            summary = (
                f"Fetched kodama/{name} into kodama/{name} (fedcba987654, 2 commits ahead of main)"
            )
            return {
                "branch": f"kodama/{name}",
                "commit": "fedcba9876543210",
                "ahead": 2,
                "display": {"summary": summary},
            }, None
        if command == "kodama.session.logs":
            if arg.get("follow"):
                return self.execute("kodama.session.attach", {"name": name})
            return {"name": name, "text": "[session s1 · model m]\nLooking.\n", "lines": 2}, None
        if command == "kodama.session.wait":
            # A step longer than the command line: the client must cut it, not stop at a prompt.
            self.progress(f"Kodama: waiting for {name}", ["agent: working " + "x" * 300])
            return {"state": arg.get("for"), "message": None, "since": None, "exitCode": None}, None
        if command in ("kodama.sync.push", "kodama.sync.pull"):
            return {"name": name, "files": 3}, None
        if command.startswith("kodama.sync."):
            return {
                "name": name,
                "state": "watching",
                "connected": True,
                "lastError": None,
                "conflicts": [{"path": "src/app.py"}],
                "mutagenSession": f"kodama-{name}",
                "display": {
                    "summary": "watching, 1 conflict",
                    "detail": [
                        f"Session:     {name}",
                        "State:       watching, connected",
                        "Conflicts:   1",
                        "  src/app.py  (local: unchanged; pod: unchanged)",
                    ],
                },
            }, None
        return None, {"code": -32601, "message": f"unknown command {command}"}

    def handle(self, msg: dict[str, Any]) -> bool:
        method, mid = msg.get("method"), msg.get("id")
        if method == "initialize":
            self.client_caps = msg["params"].get("capabilities", {})
            self.send(
                {
                    "id": mid,
                    "result": {
                        "capabilities": {"executeCommandProvider": {"commands": COMMANDS}},
                        "serverInfo": {"name": "fake-kodama-lsp", "version": "0"},
                    },
                }
            )
        elif method == "initialized":
            self.sessions_changed()
        elif method == "shutdown":
            self.send({"id": mid, "result": None})
        elif method == "exit":
            return False
        elif method == "workspace/executeCommand":
            args = msg["params"].get("arguments") or [{}]
            result, error = self.execute(msg["params"]["command"], args[0] or {})
            if error:
                self.send({"id": mid, "error": error})
            else:
                self.send({"id": mid, "result": result})
        elif mid is not None and method is not None:
            self.send({"id": mid, "error": {"code": -32601, "message": f"no {method}"}})
        return True

    def serve(self) -> None:
        while True:
            msg = self.pending.pop(0) if self.pending else self.read()
            if msg is None or not self.handle(msg):
                return


if __name__ == "__main__":
    Server().serve()
