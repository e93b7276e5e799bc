"""Kodama's sessions as real pods on the test plane's real node (kubelet + containerd).

What the simulated node cannot show: the image's user against the pod's security context,
volume ownership, Secret file modes, image pulls, OOM kills and container restarts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kodama, poll

pytestmark = pytest.mark.cluster


@pytest.fixture
def real(kodama: Kodama, testenv: Any) -> Kodama:
    if not testenv.real_node:
        pytest.skip(
            "needs the test plane's real node (KODAMA_TESTENV_REAL_NODE=0 or another cluster)"
        )
    return kodama


def in_pod(k: Kodama, name: str, script: str, check: bool = True) -> str:
    return k.run("attach", name, "--", "sh", "-c", script, check=check).stdout


def test_the_agent_user_owns_its_files_and_secrets_are_its_alone(
    real: Kodama, tmp_path: Path
) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text("s3cret-for-the-agent\n")
    real.run("start", "who", "--secret-file", f"{secret}:/home/kodama/.config/tool/token.txt")
    got = real.json("get", "who")
    assert got["node"] == "kodama-testenv-real"
    out = in_pod(
        real,
        "who",
        'id -u; id -g; touch /workspace/w "$HOME/h" && stat -c "%u %g" /workspace/w "$HOME/h"; '
        'mkdir -p "$HOME/.cache/x" && echo home-writable; '
        "cat /home/kodama/.config/tool/token.txt; stat -L -c '%a %u %g' /home/kodama/.config/tool/token.txt; "
        # The file's folders in HOME are the agent's own (no root-owned ~/.config).
        'stat -c "%u" "$HOME/.config" "$HOME/.config/tool"; mkdir "$HOME/.config/other" && echo ok',
    ).splitlines()
    assert out[0] == "1000" and out[1] == "1000"
    assert out[2:4] == ["1000 1000", "1000 1000"]
    assert out[4] == "home-writable"
    assert out[5] == "s3cret-for-the-agent"
    mode, uid, gid = out[6].split()
    # Readable by the agent (group: the pod's fsGroup), by nobody else.
    assert int(mode, 8) & 0o007 == 0 and int(mode, 8) & 0o200 == 0, out[6]
    assert gid == "1000" or uid == "1000", out[6]
    assert out[7:] == ["1000", "1000", "ok"], out


def test_data_on_both_pvcs_survives_stop_and_resume(real: Kodama) -> None:
    real.run("start", "keep")
    in_pod(real, "keep", 'echo ws > /workspace/kept.txt && echo home > "$HOME/kept.txt"')
    real.run("stop", "keep")
    assert real.json("get", "keep")["status"] == "Stopped"
    real.run("resume", "keep")
    assert in_pod(real, "keep", 'cat /workspace/kept.txt "$HOME/kept.txt"') == "ws\nhome\n"


def test_an_image_that_cannot_be_pulled_fails_start_and_rolls_back(
    real: Kodama, testenv: Any
) -> None:
    image = testenv.agent_image.rsplit("/", 2)[0] + "/kodama/no-such-image:1"
    t0 = time.monotonic()
    proc = real.run("start", "nopull", "--image", image, check=False, timeout=120)
    took = time.monotonic() - t0
    print(f"start with an unpullable image failed after {took:.1f}s")
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: cannot pull image {image}"), (
        proc.stderr
    )
    assert "images/agent" in proc.stderr and "image:" in proc.stderr
    assert testenv.managed(real.namespace) == []


def attach_finds_the_agent(k: Kodama, name: str) -> None:
    """`kubectl kodama attach NAME` in a real terminal reaches a (re)launched agent."""
    pexpect = pytest.importorskip("pexpect")
    argv = k.argv("attach", name)
    child = pexpect.spawn(
        argv[0], argv[1:], cwd=str(k.cwd), env={**k.environ(), "TERM": "xterm"}, timeout=60
    )
    try:
        child.expect("stand-in agent ready")
        for _ in range(3):  # a busy machine may drop the keys while tmux redraws
            child.send("\x02d")  # tmux prefix C-b, then d: detach
            if child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=20) == 0:
                break
        else:
            raise AssertionError("attach did not detach")
    finally:
        child.close(force=True)


def agent_run(k: Kodama, name: str) -> dict[str, Any]:
    return dict(json.loads(in_pod(k, name, 'cat "$HOME/.kodama/agent-run.json"')))


def test_oom_killed_is_reported_and_attach_relaunches_the_agent(real: Kodama) -> None:
    real.run("start", "oom", "--memory", "96Mi")
    before = agent_run(real, "oom")
    # The container's main process volunteers as the OOM killer's victim (raising a score needs
    # no privilege), then something fills the memory limit.
    in_pod(
        real,
        "oom",
        "echo 1000 > /proc/1/oom_score_adj; head -c 300m /dev/zero | tail > /dev/null",
        check=False,
    )
    got = poll(
        lambda: (g := real.json("get", "oom"))["status"] == "Running" and g.get("reason") and g
    )
    assert "OOMKilled" in got["reason"] and "restarted once" in got["reason"], got
    assert got["agent"]["state"] != "working", "the agent died with the container"
    attach_finds_the_agent(real, "oom")
    after = agent_run(real, "oom")
    assert after["endedAt"] is None and after["startedAt"] != before["startedAt"]


def test_a_stopped_main_process_restarts_the_container_and_attach_relaunches(
    real: Kodama,
) -> None:
    real.run("start", "rs")
    before = agent_run(real, "rs")
    in_pod(real, "rs", "kill -TERM 1", check=False)
    got = poll(
        lambda: (g := real.json("get", "rs"))["status"] == "Running" and g.get("reason") and g
    )
    assert "container restarted once" in got["reason"], got
    attach_finds_the_agent(real, "rs")
    after = agent_run(real, "rs")
    assert after["endedAt"] is None and after["startedAt"] != before["startedAt"]


def test_crash_loop_is_reported_with_the_reason(real: Kodama, testenv: Any) -> None:
    # An image without a shell: the container cannot run Kodama's keep-alive command.
    pause = testenv.kubectl("get", "nodes", "kodama-testenv-real", "-o", "json").stdout
    images = [
        n for img in json.loads(pause)["status"].get("images", []) for n in img.get("names", [])
    ]
    shell_less = next((n for n in images if "pause" in n), None)
    if shell_less is None:
        pytest.fail(f"no pause image on the real node: {images}")
    proc = real.run("start", "crash", "--image", shell_less, check=False, timeout=150)
    assert proc.returncode == 1
    assert "CrashLoopBackOff" in proc.stderr or "StartError" in proc.stderr, proc.stderr
