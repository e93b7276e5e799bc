"""The kubeconfig reader that replaced the kubernetes client's loader (kodama.k8s.kubeconfig)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from kodama.errors import ClusterError, Forbidden, InvalidInput, NotFound
from kodama.k8s import kubeconfig
from kodama.k8s.cluster import translate
from kodama.k8s.rest import ApiError


def write(tmp_path: Path, user: str, cluster: str = "server: https://127.0.0.1:9") -> str:
    path = tmp_path / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        f"clusters: [{{name: c, cluster: {{{cluster}}}}}]\n"
        f"users: [{{name: u, user: {{{user}}}}}]\n"
        "contexts: [{name: dev, context: {cluster: c, user: u, namespace: team}},"
        " {name: other, context: {cluster: c, user: u}}]\n"
    )
    return str(path)


def test_token_becomes_a_bearer_header(tmp_path: Path) -> None:
    creds = kubeconfig.from_kubeconfig(write(tmp_path, "token: abc"), None)
    assert creds.server == "https://127.0.0.1:9"
    assert creds.headers() == {"authorization": "Bearer abc"}
    assert creds.ssl_factory is not None and not creds.insecure


def test_token_file_is_read_again_each_time_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("one\n")
    creds = kubeconfig.from_kubeconfig(write(tmp_path, "tokenFile: tok"), "other")
    assert creds.headers() == {"authorization": "Bearer one"}
    (tmp_path / "tok").write_text("two\n")
    assert creds.headers() == {"authorization": "Bearer two"}


def test_basic_auth(tmp_path: Path) -> None:
    creds = kubeconfig.from_kubeconfig(write(tmp_path, "username: me, password: pw"), None)
    assert creds.headers() == {"authorization": "Basic " + base64.b64encode(b"me:pw").decode()}


def test_insecure_and_tls_server_name(tmp_path: Path) -> None:
    cluster = "server: https://10.0.0.1:6443, insecure-skip-tls-verify: true"
    creds = kubeconfig.from_kubeconfig(write(tmp_path, "token: t", cluster), None)
    assert creds.insecure
    cluster = "server: https://10.0.0.1:6443, tls-server-name: kubernetes"
    creds = kubeconfig.from_kubeconfig(write(tmp_path, "token: t", cluster), None)
    assert creds.server_hostname == "kubernetes" and not creds.insecure


def test_exec_plugin_token_and_its_renewal(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os, pathlib\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert info['kind'] == 'ExecCredential'\n"
        "print(json.dumps({'status': {'token': f\"tok-{n}-{os.environ['EXTRA']}\","
        " 'expirationTimestamp': '2000-01-01T00:00:00Z'}}))\n"
    )
    user = (
        f"exec: {{apiVersion: client.authentication.k8s.io/v1, command: {sys.executable},"
        f" args: [{plugin}], env: [{{name: EXTRA, value: x}}]}}"
    )
    creds = kubeconfig.from_kubeconfig(write(tmp_path, user), None)
    # Already expired: every request asks the plugin again.
    assert creds.headers() == {"authorization": "Bearer tok-2-x"}
    assert creds.headers() == {"authorization": "Bearer tok-3-x"}


def test_exec_plugin_failure_is_one_clear_error(tmp_path: Path) -> None:
    user = f"exec: {{apiVersion: client.authentication.k8s.io/v1, command: {sys.executable},"
    user += " args: ['-c', 'import sys; sys.exit(\"login expired\")']}"
    with pytest.raises(ClusterError, match="exited 1: login expired"):
        kubeconfig.from_kubeconfig(write(tmp_path, user), None)


def test_auth_provider_goes_to_the_client_loader(tmp_path: Path) -> None:
    with pytest.raises(kubeconfig.NeedsClientLoader):
        kubeconfig.from_kubeconfig(write(tmp_path, "auth-provider: {name: oidc}"), None)


def test_broken_files_say_which(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="no cluster server"):
        kubeconfig.from_kubeconfig(
            write(tmp_path, "token: t", "insecure-skip-tls-verify: true"), None
        )
    with pytest.raises(ClusterError, match="context 'nope' not found"):
        kubeconfig.from_kubeconfig(write(tmp_path, "token: t"), "nope")
    bad = tmp_path / "bad"
    bad.write_text("clusters: [")
    with pytest.raises(ClusterError, match=f"invalid kubeconfig {bad}"):
        kubeconfig.from_kubeconfig(str(bad), None)
    ca = "server: https://h:1, certificate-authority-data: " + base64.b64encode(b"junk").decode()
    with pytest.raises(ClusterError, match="invalid kubeconfig"):
        kubeconfig.from_kubeconfig(write(tmp_path, "token: t", ca), None)


def test_contexts_as_the_client_listed_them(tmp_path: Path) -> None:
    items, active = kubeconfig.contexts(kubeconfig.read_config(write(tmp_path, "token: t")))
    assert [c["name"] for c in items] == ["dev", "other"]
    assert active is not None and active["context"]["namespace"] == "team"


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (401, "", ClusterError, "rejected your credentials"),
        (
            403,
            json.dumps({"message": "pods is forbidden"}),
            Forbidden,
            "forbidden: cannot list pods",
        ),
        (403, json.dumps({"message": "x violates PodSecurity y"}), InvalidInput, "violates"),
        (404, json.dumps({"message": 'pods "p" not found'}), NotFound, 'pods "p" not found'),
        (422, "not json", InvalidInput, "cannot list pods: not json"),
        (500, "{}", ClusterError, "(HTTP 500)"),
        (0, "", ClusterError, "cannot reach the cluster: connection refused or timed out"),
    ],
)
def test_api_errors_are_translated(status: int, body: str, kind: type, text: str) -> None:
    reason = "Max retries exceeded" if status == 0 else "Unprocessable"
    err = translate(ApiError(status, reason, body), "list pods")
    assert isinstance(err, kind)
    assert text in err.message
