"""pr on the test plane: the branch reaches a local bare remote (pushed from this machine), then
the compare URL is printed, or a stand-in `gh` opens the pull request."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kodama

pytestmark = pytest.mark.cluster

GH = """#!/bin/sh
printf '%s\\0' "$@" > "{log}.args"
env > "{log}.env"
case "$1 $2" in
  "auth status") exit 0 ;;
  "pr create") echo "https://github.com/acme/widget/pull/7" ;;
esac
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def github_like(kodama: Kodama, tmp_path: Path) -> Path:
    """origin looks like GitHub for URLs but pushes go to a local bare repository."""
    bare = tmp_path / "widget.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    repo = kodama.cwd
    git(repo, "remote", "add", "origin", "https://github.com/acme/widget.git")
    git(repo, "remote", "set-url", "--push", "origin", str(bare))
    return bare


def test_pr_pushes_and_prints_the_compare_url(
    kodama: Kodama, testenv: Any, github_like: Path, tmp_path: Path
) -> None:
    ns = kodama.namespace
    kodama.run("start", "pr1")
    kodama.run(
        "attach", "pr1", "--", "sh", "-c", "echo x > f && git add f && git commit -qm 'Add f'"
    )
    pod_head = kodama.run("attach", "pr1", "--", "git", "rev-parse", "HEAD").stdout.strip()
    secrets_before = testenv.kubectl("get", "secrets", "-n", ns, "-o", "name").stdout
    pod_before = json.loads(
        testenv.kubectl("get", "pod", "kodama-pr1", "-n", ns, "-o", "json").stdout
    )

    kodama.env["PATH"] = "/usr/bin:/bin"  # no gh here, whatever the machine has
    proc = kodama.run("pr", "pr1")
    assert (
        proc.stdout.strip() == "https://github.com/acme/widget/compare/main...kodama/pr1?expand=1"
    )
    assert git(github_like, "rev-parse", "refs/heads/kodama/pr1") == pod_head

    # A stand-in gh that is logged in opens it, with the session's defaults and the flags.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "gh"
    (bindir / "gh").write_text(GH.format(log=log))
    (bindir / "gh").chmod(0o755)
    kodama.env["PATH"] = f"{bindir}:/usr/bin:/bin"
    proc = kodama.run("pr", "pr1", "--draft", "--base", "develop", "-o", "json")
    result = json.loads(proc.stdout)
    assert result["url"] == "https://github.com/acme/widget/pull/7" and result["opened"]
    args = log.with_suffix(".args").read_text().split("\0")[:-1]
    assert args[:8] == [
        "pr",
        "create",
        "--head",
        "kodama/pr1",
        "--base",
        "develop",
        "--title",
        "Add f",
    ]
    assert args[8] == "--body" and "- Add f" in args[9] and args[-1] == "--draft"

    # Nothing reached the cluster: no new Secret, the same pod, no credential in its spec.
    assert testenv.kubectl("get", "secrets", "-n", ns, "-o", "name").stdout == secrets_before
    pod_after = json.loads(
        testenv.kubectl("get", "pod", "kodama-pr1", "-n", ns, "-o", "json").stdout
    )
    assert pod_after["metadata"]["uid"] == pod_before["metadata"]["uid"]
    assert pod_after["spec"] == pod_before["spec"]
    kodama.run("delete", "pr1", "--yes")


def test_pr_without_a_remote_says_so(kodama: Kodama) -> None:
    kodama.run("start", "pr2")
    proc = kodama.run("pr", "pr2", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: cannot tell which remote to push to: the repository has no remote "
        "(hint: pass --remote NAME)"
    )
    kodama.run("delete", "pr2", "--yes")


def test_pr_to_a_plain_remote_pushes_without_url(kodama: Kodama, tmp_path: Path) -> None:
    bare = tmp_path / "plain.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(kodama.cwd, "remote", "add", "upstream", str(bare))
    kodama.run("start", "pr3", "--prompt", "Tidy the README\nplease")
    kodama.env["PATH"] = "/usr/bin:/bin"  # no gh
    result = json.loads(kodama.run("pr", "pr3", "-o", "json").stdout)
    assert result["remote"] == "upstream" and result["url"] is None
    assert result["title"] == "Tidy the README"
    assert git(bare, "rev-parse", "refs/heads/kodama/pr3") == result["commit"]
    kodama.run("delete", "pr3", "--yes")
