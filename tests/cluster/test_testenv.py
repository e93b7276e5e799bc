"""Acceptance tests of the test control plane (tests/testenv).

They drive it the way Kodama will: kubectl and the Python client, a pod shaped
like a session pod (restricted, two PVCs, a Secret volume, a secretKeyRef env).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.testenv.pytest_plugin import SIMULATED_NODE_SELECTOR, SIMULATED_TOLERATION

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k8s  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

pytestmark = pytest.mark.cluster

TESTENV_DIR = Path(__file__).resolve().parents[1] / "testenv"


@pytest.fixture(scope="module")
def api(testenv):
    return kubernetes.config.new_client_from_config(config_file=str(testenv.kubeconfig))


@pytest.fixture
def core(api):
    return k8s.CoreV1Api(api)


def need_host_exec(testenv):
    if not testenv.simulated:
        pytest.skip("needs the simulated node, where exec runs on this host")


def restricted_security():
    return {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def create_claim(core, ns: str, name: str) -> None:
    core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )


def create_secret(core, ns: str, name: str, data: dict[str, str]) -> None:
    core.create_namespaced_secret(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        },
    )


def session_pod(name: str, workspace: str, home: str, secret: str) -> dict:
    """A pod shaped like a Kodama session pod, on the simulated node (host exec)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "testenv-check"}},
        "spec": {
            "nodeSelector": SIMULATED_NODE_SELECTOR,
            "tolerations": [SIMULATED_TOLERATION],
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "agent",
                    "image": "example.invalid/agent:1",
                    "workingDir": "/workspace",
                    "env": [
                        {"name": "HOME", "value": "/home/kodama"},
                        {"name": "KODAMA_WORKSPACE", "value": "/workspace"},
                        {"name": "KODAMA_SECRETS", "value": "/var/run/kodama/secrets"},
                        {"name": "KODAMA_SESSION", "value": name},
                        {
                            "name": "ANTHROPIC_API_KEY",
                            "valueFrom": {"secretKeyRef": {"name": secret, "key": "api-key"}},
                        },
                    ],
                    "volumeMounts": [
                        {"name": "workspace", "mountPath": "/workspace"},
                        {"name": "home", "mountPath": "/home/kodama"},
                        {
                            "name": "secrets",
                            "mountPath": "/var/run/kodama/secrets",
                            "readOnly": True,
                        },
                    ],
                    "securityContext": restricted_security(),
                }
            ],
            "volumes": [
                {"name": "workspace", "persistentVolumeClaim": {"claimName": workspace}},
                {"name": "home", "persistentVolumeClaim": {"claimName": home}},
                {
                    "name": "secrets",
                    "secret": {
                        "secretName": secret,
                        "items": [{"key": "token", "path": "git/token"}],
                    },
                },
            ],
        },
    }


def wait_ready(core, ns: str, name: str, timeout: float = 60) -> k8s.V1Pod:
    deadline = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod(name, ns)
        conditions = {c.type: c.status for c in (pod.status.conditions or [])}
        if pod.status.phase == "Running" and conditions.get("Ready") == "True":
            return pod
        if time.monotonic() > deadline:
            raise AssertionError(
                f"pod {ns}/{name} not Ready: phase={pod.status.phase} {conditions}"
            )
        time.sleep(0.2)


def wait_gone(core, ns: str, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_pod(name, ns)
        except ApiException as e:
            if e.status == 404:
                return
            raise
        time.sleep(0.2)
    raise AssertionError(f"pod {ns}/{name} still there")


def claim_bound(core, ns: str, name: str, timeout: float = 60) -> k8s.V1PersistentVolumeClaim:
    deadline = time.monotonic() + timeout
    while True:
        claim = core.read_namespaced_persistent_volume_claim(name, ns)
        if claim.status.phase == "Bound":
            return claim
        if time.monotonic() > deadline:
            raise AssertionError(f"claim {ns}/{name} is {claim.status.phase}")
        time.sleep(0.2)


@pytest.fixture
def session(testenv, core, namespace):
    """A running session-shaped pod: (namespace, pod name)."""
    create_secret(core, namespace, "creds", {"api-key": "sk-test-123", "token": "ghp_abc"})
    create_claim(core, namespace, "ws")
    create_claim(core, namespace, "home")
    core.create_namespaced_pod(namespace, session_pod("s1", "ws", "home", "creds"))
    wait_ready(core, namespace, "s1")
    return namespace, "s1"


def pod_sh(testenv, ns, pod, script, **kw):
    """stdout of `sh -c SCRIPT` exec'd in the pod (with stdin when `input` is given)."""
    stdin = ["-i"] if "input" in kw else []
    return testenv.kubectl("exec", *stdin, pod, "-n", ns, "--", "sh", "-c", script, **kw).stdout


def test_pod_with_pvcs_runs_and_claims_bind(testenv, core, session):
    ns, pod = session
    obj = wait_ready(core, ns, pod)
    assert obj.spec.node_name
    for claim in ("ws", "home"):
        bound = claim_bound(core, ns, claim)
        assert bound.spec.volume_name
    out = testenv.kubectl("get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.phase}").stdout
    assert out == "Running"


def test_files_written_by_exec_survive_pod_recreation(testenv, core, session):
    need_host_exec(testenv)
    ns, pod = session
    pod_sh(
        testenv,
        ns,
        pod,
        'cat > "$KODAMA_WORKSPACE/note.txt"; echo home > "$HOME/.marker"; pwd',
        input="hello from exec\n",
    )
    host = testenv.volumes / ns / "ws" / "note.txt"
    assert host.read_text() == "hello from exec\n"

    core.delete_namespaced_pod(pod, ns)
    wait_gone(core, ns, pod)
    core.create_namespaced_pod(ns, session_pod(pod, "ws", "home", "creds"))
    wait_ready(core, ns, pod)
    out = pod_sh(testenv, ns, pod, 'cat "$KODAMA_WORKSPACE/note.txt" "$HOME/.marker"; pwd')
    lines = out.splitlines()
    assert lines[:2] == ["hello from exec", "home"]
    assert lines[2] == str(testenv.volumes / ns / "ws")  # workingDir /workspace, mapped


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has ended; only its parent's wait is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _wait_until(what: str, cond, timeout: float) -> float:
    started = time.monotonic()
    while not cond():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not after {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


# Two daemons detached from the exec (own session, parent exits): one ends on
# SIGTERM, the other ignores it and needs the SIGKILL after the grace period.
DAEMONS = (
    "setsid sh -c 'echo $$ > \"$HOME/term.pid\"; exec sleep 1000' >/dev/null 2>&1 </dev/null & "
    'setsid sh -c \'trap "" TERM; echo $$ > "$HOME/stubborn.pid"; exec sleep 1000\' >/dev/null 2>&1 </dev/null & '
    'while [ ! -s "$HOME/term.pid" ] || [ ! -s "$HOME/stubborn.pid" ]; do sleep 0.05; done'
)


def test_daemonized_exec_processes_end_with_their_pod(testenv, core, session):
    """Like a kubelet: deleting a pod ends every process exec started in it, daemons included."""
    need_host_exec(testenv)
    ns, pod = session
    uid = core.read_namespaced_pod(pod, ns).metadata.uid
    home = testenv.volumes / ns / "home"
    testenv.kubectl("exec", pod, "-n", ns, "--", "sh", "-c", DAEMONS)
    pids = [int((home / f).read_text()) for f in ("term.pid", "stubborn.pid")]
    assert all(_running(p) for p in pids)
    env = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
    assert f"KODAMA_TESTENV_POD_UID={uid}".encode() in env
    assert f"KODAMA_TESTENV_POD={ns}/{pod}".encode() in env

    started = time.monotonic()
    core.delete_namespaced_pod(pod, ns, grace_period_seconds=2)
    term_secs = _wait_until("daemon ending on SIGTERM", lambda: not _running(pids[0]), 10)
    kill_secs = _wait_until("daemon ignoring SIGTERM", lambda: not _running(pids[1]), 10)
    wait_gone(core, ns, pod, timeout=10)
    gone_secs = time.monotonic() - started
    assert kill_secs >= 1.5  # it had its grace period
    assert gone_secs >= kill_secs  # the pod object went after its processes

    # A new pod on the same claims sees none of them.
    core.create_namespaced_pod(ns, session_pod(pod, "ws", "home", "creds"))
    wait_ready(core, ns, pod)
    script = 'for f in term stubborn; do kill -0 "$(cat "$HOME/$f.pid")" 2>/dev/null && echo "$f alive"; done; true'
    assert testenv.kubectl("exec", pod, "-n", ns, "--", "sh", "-c", script).stdout == ""

    # Forced deletion (the object goes at once): the agent kills on the delete event.
    for f in ("term.pid", "stubborn.pid"):
        (home / f).unlink()
    testenv.kubectl("exec", pod, "-n", ns, "--", "sh", "-c", DAEMONS)
    pids = [int((home / f).read_text()) for f in ("term.pid", "stubborn.pid")]
    started = time.monotonic()
    core.delete_namespaced_pod(pod, ns, grace_period_seconds=0)
    wait_gone(core, ns, pod, timeout=10)
    core.create_namespaced_pod(
        ns, session_pod(pod, "ws", "home", "creds")
    )  # at once, as resume does
    wait_ready(core, ns, pod)
    assert testenv.kubectl("exec", pod, "-n", ns, "--", "sh", "-c", script).stdout == ""
    _wait_until("daemons of a force-deleted pod", lambda: not any(map(_running, pids)), 10)
    forced_secs = time.monotonic() - started
    print(
        f"\ngraceful delete: SIGTERM'd daemon gone {term_secs:.1f}s, stubborn one {kill_secs:.1f}s, "
        f"pod object {gone_secs:.1f}s; forced delete and recreation: daemons gone, new pod checked {forced_secs:.1f}s"
    )


def test_exec_exit_codes_pass_through(testenv, session):
    need_host_exec(testenv)
    ns, pod = session
    for code in (0, 1, 7, 42):
        proc = testenv.kubectl("exec", pod, "-n", ns, "--", "sh", "-c", f"exit {code}", check=False)
        assert proc.returncode == code, proc.stderr
    proc = testenv.kubectl("exec", pod, "-n", ns, "--", "no-such-command-xyz", check=False)
    assert proc.returncode == 127


def test_exec_stdin_and_stderr_are_separate(testenv, session):
    need_host_exec(testenv)
    ns, pod = session
    proc = testenv.kubectl(
        "exec", "-i", pod, "-n", ns, "--", "sh", "-c", "tr a-z A-Z; echo oops >&2", input="abc\n"
    )
    assert proc.stdout == "ABC\n"
    assert "oops" in proc.stderr


def test_exec_with_tty(testenv, session):
    need_host_exec(testenv)
    pexpect = pytest.importorskip("pexpect")
    ns, pod = session
    child = pexpect.spawn(
        "kubectl",
        [
            f"--kubeconfig={testenv.kubeconfig}",
            f"--cache-dir={testenv.cache_dir}",
            "exec",
            "-it",
            pod,
            "-n",
            ns,
            "--",
            "sh",
        ],
        encoding="utf-8",
        timeout=30,
        dimensions=(24, 80),
    )
    child.sendline("test -t 0 && echo IS-A-TTY; echo $((6*7)); printf '%s\\n' \"$TERM\"")
    child.expect("IS-A-TTY")
    child.expect("42")
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


def test_secret_env_and_volume_reach_the_exec(testenv, session):
    need_host_exec(testenv)
    ns, pod = session
    out = pod_sh(
        testenv,
        ns,
        pod,
        'printf "%s\\n" "$ANTHROPIC_API_KEY"; cat "$KODAMA_SECRETS/git/token"; echo; '
        'stat -c %a "$KODAMA_SECRETS/git/token"; echo "$KODAMA_SESSION"',
    )
    assert out.splitlines() == ["sk-test-123", "ghp_abc", "600", pod]
    # Only the listed items are written.
    assert not (testenv.volumes / ns / "pods" / pod / "secrets" / "api-key").exists()


def test_pod_waits_for_a_secret_created_after_it(testenv, core, namespace):
    """Like a kubelet: no exec mapping (so not Ready) until the Secret exists."""
    need_host_exec(testenv)
    create_claim(core, namespace, "ws")
    create_claim(core, namespace, "home")
    core.create_namespaced_pod(namespace, session_pod("late", "ws", "home", "late-creds"))
    time.sleep(2)
    assert core.read_namespaced_pod("late", namespace).status.phase == "Pending"
    create_secret(core, namespace, "late-creds", {"api-key": "sk-late", "token": "t"})
    wait_ready(core, namespace, "late", timeout=30)
    out = testenv.kubectl(
        "exec", "late", "-n", namespace, "--", "sh", "-c", 'echo "$ANTHROPIC_API_KEY"'
    ).stdout
    assert out == "sk-late\n"


def test_python_client_sees_exec_mapping_objects(testenv, api, session):
    """The mapping lives in a kwok Exec object named after the pod."""
    need_host_exec(testenv)
    ns, pod = session
    obj = k8s.CustomObjectsApi(api).get_namespaced_custom_object(
        "kwok.x-k8s.io", "v1alpha1", ns, "execs", pod
    )
    (target,) = obj["spec"]["execs"]
    assert target["containers"] == ["agent"]
    envs = {e["name"]: e.get("value", "") for e in target["local"]["envs"]}
    assert envs["KODAMA_WORKSPACE"] == str(testenv.volumes / ns / "ws")
    assert envs["HOME"] == str(testenv.volumes / ns / "home")
    assert envs["KODAMA_SESSION"] == pod


def consumer_pod(name: str, claim: str) -> dict:
    """A pod on the simulated node that only mounts `claim` (binding waits for a consumer)."""
    pod = session_pod(name, claim, claim, "unused")
    spec = pod["spec"]
    spec["volumes"] = [{"name": "workspace", "persistentVolumeClaim": {"claimName": claim}}]
    spec["containers"][0]["volumeMounts"] = [{"name": "workspace", "mountPath": "/workspace"}]
    spec["containers"][0]["env"] = []
    return pod


def test_claims_wait_for_their_first_consumer(testenv, core, namespace):
    """Like kind's local-path provisioner: bound once a pod using it is scheduled, on its node."""
    need_host_exec(testenv)
    create_claim(core, namespace, "data")
    time.sleep(1)
    claim = core.read_namespaced_persistent_volume_claim("data", namespace)
    assert claim.status.phase == "Pending"
    core.create_namespaced_pod(namespace, consumer_pod("user", "data"))
    pv_name = claim_bound(core, namespace, "data").spec.volume_name
    pv = core.read_persistent_volume(pv_name)
    (term,) = pv.spec.node_affinity.required.node_selector_terms
    assert term.match_expressions[0].values == [wait_ready(core, namespace, "user").spec.node_name]


def test_new_claim_with_old_name_starts_empty(testenv, core, namespace):
    need_host_exec(testenv)
    create_claim(core, namespace, "data")
    core.create_namespaced_pod(namespace, consumer_pod("user", "data"))
    claim_bound(core, namespace, "data")
    folder = testenv.volumes / namespace / "data"
    (folder / "old.txt").write_text("old")
    pv = core.read_namespaced_persistent_volume_claim("data", namespace).spec.volume_name
    core.delete_namespaced_pod("user", namespace, grace_period_seconds=0)
    wait_gone(core, namespace, "user")
    core.delete_namespaced_persistent_volume_claim("data", namespace)
    deadline = time.monotonic() + 30
    while folder.exists() or any(
        v.metadata.name == pv for v in core.list_persistent_volume().items
    ):
        assert time.monotonic() < deadline, "volume of the deleted claim not released"
        time.sleep(0.2)
    create_claim(core, namespace, "data")
    core.create_namespaced_pod(namespace, consumer_pod("user", "data"))
    claim_bound(core, namespace, "data")
    assert folder.is_dir() and not any(folder.iterdir())


def test_serviceaccount_is_confined_to_its_role(testenv, core, namespace, tmp_path):
    other = namespace + "-x"
    testenv.kubectl("create", "namespace", other)
    try:
        testenv.kubectl("create", "serviceaccount", "runner", "-n", namespace)
        testenv.kubectl(
            "create",
            "role",
            "runner",
            "-n",
            namespace,
            "--verb=get,list,watch,create,delete",
            "--resource=pods,pods/exec,persistentvolumeclaims,secrets",
        )
        testenv.kubectl(
            "create",
            "rolebinding",
            "runner",
            "-n",
            namespace,
            "--role=runner",
            f"--serviceaccount={namespace}:runner",
        )
        token = testenv.kubectl(
            "create", "token", "runner", "-n", namespace, "--duration=10m"
        ).stdout.strip()
        assert token.count(".") == 2  # a signed JWT from the TokenRequest API

        ca = tmp_path / "ca.crt"
        ca.write_bytes(
            base64.b64decode(
                testenv.kubectl(
                    "config",
                    "view",
                    "--raw",
                    "--minify",
                    "-o",
                    "jsonpath={.clusters[0].cluster.certificate-authority-data}",
                ).stdout
            )
        )
        server = testenv.kubectl(
            "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"
        ).stdout
        sa_kubeconfig = tmp_path / "sa.kubeconfig"
        sa_kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}", certificate-authority: "{ca}"}}}}]
users: [{{name: u, user: {{token: "{token}"}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u, namespace: {namespace}}}}}]
current-context: x
""")

        def as_sa(*args):
            return subprocess.run(
                [
                    "kubectl",
                    f"--kubeconfig={sa_kubeconfig}",
                    f"--cache-dir={testenv.cache_dir}",
                    *args,
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )

        who = as_sa("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
        assert who.stdout == f"system:serviceaccount:{namespace}:runner", who.stderr
        assert as_sa("get", "pods").returncode == 0
        denied = as_sa("get", "pods", "-n", other)
        assert denied.returncode != 0 and "Forbidden" in denied.stderr
        denied = as_sa("create", "clusterrole", "evil", "--verb=*", "--resource=*")
        assert denied.returncode != 0 and "Forbidden" in denied.stderr

        # The Python client with the same token, as Kodama's engine would use it.
        conf = k8s.Configuration()
        conf.host = server
        conf.ssl_ca_cert = str(ca)
        conf.api_key = {"authorization": "Bearer " + token}
        sa_core = k8s.CoreV1Api(k8s.ApiClient(conf))
        sa_core.list_namespaced_pod(namespace)
        with pytest.raises(ApiException) as err:
            sa_core.list_namespaced_pod(other)
        assert err.value.status == 403
    finally:
        testenv.kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_privileged_pod_is_rejected_in_restricted_namespace(testenv, namespace):
    pod = """apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers:
  - name: c
    image: example.invalid/x:1
    securityContext: {privileged: true}
"""
    proc = testenv.kubectl("apply", "-n", namespace, "-f", "-", input=pod, check=False)
    assert proc.returncode != 0
    assert "violates PodSecurity" in proc.stderr and "restricted" in proc.stderr


def test_mutagen_is_built_with_its_agent_bundle(mutagen_bin):
    version = subprocess.run(
        [str(mutagen_bin / "mutagen"), "version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    assert version.startswith("0.18.")
    listing = subprocess.run(
        ["tar", "-tzf", str(mutagen_bin / "mutagen-agents.tar.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert listing == ["linux_amd64"]


def _pids_and_ports(state: Path):
    pids = {f.stem: int(f.read_text().strip()) for f in (state / "run").glob("*.pid")}
    ports = {}
    for line in (state / "ports.env").read_text().splitlines():
        key, _, value = line.partition("=")
        ports[key] = int(value)
    return pids, ports


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False
    return stat.rsplit(") ", 1)[-1][:1] != "Z"


def _listening(port: int) -> bool:
    out = subprocess.run(["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True).stdout
    return bool(out.strip())


def _free_port_base() -> int:
    for base in range(19400, 30000, 100):
        if not any(_listening(base + off) for off in (1, 2, 43, 50, 57, 59)):
            return base
    pytest.skip("no free port range for a second control plane")


@pytest.mark.testenv_lifecycle
def test_up_is_idempotent_and_down_leaves_nothing(testenv, tmp_path):
    """A second plane in its own state folder and ports: up, up again, down."""
    need_host_exec(testenv)
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is needed to check ports")
    state = tmp_path / "plane"
    env = dict(
        os.environ, KODAMA_TESTENV_STATE=str(state), KODAMA_TESTENV_PORT_BASE=str(_free_port_base())
    )
    env.pop("KODAMA_TESTENV_LOCKED", None)
    env["KODAMA_TESTENV_REAL_NODE"] = "0"  # one real node per host: the main plane has it

    def script(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(TESTENV_DIR / name)], env=env, capture_output=True, text=True, timeout=300
        )

    try:
        started = time.monotonic()
        up = script("up")
        up_secs = time.monotonic() - started
        assert up.returncode == 0, up.stdout + up.stderr
        started = time.monotonic()
        again = script("up")
        again_secs = time.monotonic() - started
        assert again.returncode == 0 and "already up" in again.stdout
        assert script("status").returncode == 0

        # A process left running by an exec must be stopped by down as well.
        other = TestEnvLike(state)
        other.kubectl("run", "p", "--image=example.invalid/x:1", "--restart=Never")
        other.kubectl("wait", "--for=condition=Ready", "pod/p", "--timeout=60s")
        other.kubectl(
            "exec", "p", "--", "sh", "-c", "setsid sleep 600 >/dev/null 2>&1 < /dev/null &"
        )
        pids, ports = _pids_and_ports(state)
        assert sorted(pids) == sorted(
            [
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kwok",
                "node-agent",
            ]
        )
    finally:
        started = time.monotonic()
        down = script("down")
        down_secs = time.monotonic() - started
    assert down.returncode == 0, down.stdout + down.stderr
    assert "killed processes left by exec" in down.stdout
    assert [name for name, pid in pids.items() if _alive(pid)] == []
    assert [port for port in ports.values() if _listening(port)] == []
    assert not state.exists()
    assert script("status").returncode == 1
    print(f"\nup {up_secs:.1f}s, up again {again_secs:.1f}s, down {down_secs:.1f}s")


class TestEnvLike:
    """kubectl against a plane in another state folder."""

    __test__ = False

    def __init__(self, state: Path):
        self.state = state

    def kubectl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                "kubectl",
                f"--kubeconfig={self.state / 'kubeconfig'}",
                f"--cache-dir={self.state / 'kube-cache'}",
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
