"""Issue 5 on the test control plane: ship the local repository, fetch work back, --repo.

The simulated node runs `kubectl exec` as local processes, so the host's git is the image's git
and a local bare repository (or a small HTTP git server on 127.0.0.1) is reachable "from the pod".
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.repo import make_repo

from .conftest import Kodama, on_simulated_node

pytestmark = pytest.mark.cluster


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def in_pod(kodama: Kodama, name: str, *command: str) -> str:
    return kodama.run("attach", name, "--", *command).stdout.strip()


@pytest.fixture
def local_repo(kodama: Kodama, tmp_path: Path) -> Path:
    """kodama's repository with a pushed commit, an unpushed one and a dirty file."""
    repo = kodama.cwd
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    (repo / "src.txt").write_text("unpushed\n")
    git(repo, "add", "src.txt")
    git(repo, "commit", "-qm", "unpushed work")
    (repo / "README.md").write_text("hello, dirty\n")
    (repo / "notes.txt").write_text("untracked\n")
    (repo / ".gitignore").write_text("*.secret\n")
    (repo / "local.secret").write_text("ignored\n")
    return repo


def test_ship_commit_in_the_pod_and_fetch(kodama: Kodama, local_repo: Path, tmp_path: Path) -> None:
    head = git(local_repo, "rev-parse", "HEAD")
    t0 = time.monotonic()
    started = kodama.run("start", "s1", "-o", "json")
    print(f"start (with ship) wall time: {time.monotonic() - t0:.2f}s")
    print(started.stderr)
    session = json.loads(started.stdout)
    assert (session["branch"], session["baseBranch"], session["baseCommit"]) == (
        "kodama/s1",
        "main",
        head,
    )
    assert in_pod(kodama, "s1", "git", "log", "-1", "--format=%H") == head
    assert in_pod(kodama, "s1", "git", "rev-parse", "--abbrev-ref", "HEAD") == "kodama/s1"
    assert in_pod(kodama, "s1", "cat", "README.md") == "hello, dirty"
    assert in_pod(kodama, "s1", "cat", "notes.txt") == "untracked"
    assert kodama.run("attach", "s1", "--", "test", "-e", "local.secret", check=False).returncode
    status = in_pod(kodama, "s1", "git", "status", "--porcelain")
    assert "M README.md" in status and "?? notes.txt" in status

    kodama.run("attach", "s1", "--", "sh", "-c", "echo x > f && git add f && git commit -qm m")
    pod_head = in_pod(kodama, "s1", "git", "rev-parse", "HEAD")
    assert kodama.json("get", "s1")["ahead"] == 1

    t0 = time.monotonic()
    fetched = kodama.run("fetch", "s1")
    print(f"fetch wall time: {time.monotonic() - t0:.2f}s")
    where = local_repo.resolve()
    assert fetched.stdout.startswith(
        f"kodama/s1 {pod_head[:12]} in {where} (new branch); 1 commit ahead"
    )
    assert git(local_repo, "log", "-1", "--format=%H %s", "kodama/s1") == f"{pod_head} m"
    assert git(local_repo, "rev-parse", "kodama/s1~1") == head
    again = kodama.json("fetch", "s1")
    assert again["commit"] == again["previous"] == pod_head and again["ahead"] == 1
    # issue 21: fetch says which repository it wrote to when that is not the obvious one.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    away = Kodama(kodama.kubeconfig, kodama.namespace, kodama.home, outside).run("fetch", "s1")
    assert f"Not in a git repository: fetching into {where}, where s1 was started" in away.stderr
    assert f" in {where} (already up to date)" in away.stdout
    other = make_repo(tmp_path / "other").resolve()
    there = Kodama(kodama.kubeconfig, kodama.namespace, kodama.home, other).run("fetch", "s1")
    assert f"warning: fetching into {other} (the repository you are in), not {where}" in (
        there.stderr
    )
    assert git(other, "rev-parse", "kodama/s1") == pod_head

    # Re-running the ensure step (attach, resume) never reships over the agent's work.
    kodama.run("stop", "s1")
    stopped = kodama.run("fetch", "s1", check=False)
    assert stopped.returncode == 1
    assert "kubectl kodama resume s1" in stopped.stderr
    kodama.run("resume", "s1")
    assert in_pod(kodama, "s1", "git", "rev-parse", "HEAD") == pod_head
    assert in_pod(kodama, "s1", "cat", "f") == "x"


def test_taken_branch_name_gets_a_timestamp(kodama: Kodama) -> None:
    git(kodama.cwd, "branch", "kodama/s2")
    session = kodama.json("start", "s2")
    assert session["branch"].startswith("kodama/s2-") and len(session["branch"]) > 12
    assert in_pod(kodama, "s2", "git", "rev-parse", "--abbrev-ref", "HEAD") == session["branch"]


@pytest.fixture
def bare(tmp_path: Path, kodama: Kodama, testenv: Any) -> Path:
    # The remote is a folder (or a server on 127.0.0.1) of this host: reachable from pods of the
    # simulated node, which run on the host, not from the real node's containers.
    config = kodama.home / "config.yaml"
    config.write_text(on_simulated_node(testenv) + config.read_text())
    path = tmp_path / "served" / "upstream.git"
    path.parent.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(kodama.cwd), str(path)], check=True)
    return path


@pytest.mark.parametrize("style", ["path", "file-url"])
def test_repo_is_cloned_on_the_session_branch(
    kodama: Kodama, bare: Path, tmp_path: Path, style: str
) -> None:
    kodama.cwd = tmp_path  # not inside a repository: nothing is shipped
    url = str(bare) if style == "path" else f"file://{bare}"
    session = kodama.json("start", "r1", "--repo", url)
    head = git(bare, "rev-parse", "main")
    assert (session["repo"], session["baseBranch"], session["baseCommit"]) == (url, "main", head)
    assert in_pod(kodama, "r1", "git", "rev-parse", "--abbrev-ref", "HEAD") == "kodama/r1"
    assert in_pod(kodama, "r1", "git", "rev-parse", "HEAD") == head
    assert in_pod(kodama, "r1", "git", "remote", "get-url", "origin") == url


def test_url_with_credentials_is_refused_before_anything_exists(
    kodama: Kodama, testenv: Any
) -> None:
    proc = kodama.run(
        "start", "leak", "--repo", "https://me:hunter2@example.com/r.git", check=False
    )
    assert proc.returncode == 1 and "contains credentials" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout
    assert kodama.run("get", "leak", check=False).returncode == 1


# -- a real HTTPS-style credential round trip (plain HTTP on loopback, Basic auth) ---------------


class _GitHTTP(BaseHTTPRequestHandler):
    """Smart-HTTP git over `git http-backend`, demanding Basic auth with the test token."""

    root: Path
    token: str
    auths: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.auths.append(auth)
        expected = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
        if auth != f"Basic {expected}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "x-access-token",
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(": ")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve


@pytest.fixture
def git_server(bare: Path) -> Iterator[tuple[str, str, list[str]]]:
    token = f"kodama-test-token-{os.getpid()}-{time.monotonic_ns()}"
    auths: list[str] = []
    handler = type("H", (_GitHTTP,), {"root": bare.parent, "token": token, "auths": auths})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{bare.name}", token, auths
    finally:
        server.shutdown()


def test_token_reaches_git_only_through_the_helper(
    kodama: Kodama, testenv: Any, git_server: tuple[str, str, list[str]], tmp_path: Path
) -> None:
    url, token, auths = git_server
    kodama.cwd = tmp_path
    kodama.env["KODAMA_TEST_GIT_TOKEN"] = token
    outputs = []
    proc = kodama.run(
        "start", "tok", "--repo", url, "--git-token-env", "KODAMA_TEST_GIT_TOKEN", "-o", "yaml"
    )
    outputs += [proc.stdout, proc.stderr]
    assert any(a.startswith("Basic ") for a in auths)  # the server saw (and required) it
    assert in_pod(kodama, "tok", "git", "rev-parse", "--abbrev-ref", "HEAD") == "kodama/tok"

    config = in_pod(kodama, "tok", "cat", ".git/config")
    assert "git-credential-kodama" in config
    pod_yaml = testenv.kubectl(
        "get", "pod", "kodama-tok", "-n", kodama.namespace, "-o", "yaml"
    ).stdout
    for cmd in (["get", "tok", "-o", "yaml"], ["get", "tok"], ["list", "-o", "wide"]):
        got = kodama.run(*cmd)
        outputs += [got.stdout, got.stderr]
    env = in_pod(kodama, "tok", "env")
    # Pulling again through the helper works after start, too (the agent's `git pull`).
    pulled = kodama.run("attach", "tok", "--", "git", "pull", "-q", "origin", "main")
    outputs += [pulled.stdout, pulled.stderr]
    for where, text in [("config", config), ("pod", pod_yaml), ("env", env)] + [
        (f"output {i}", t) for i, t in enumerate(outputs)
    ]:
        assert token not in text, f"token found in {where}"
