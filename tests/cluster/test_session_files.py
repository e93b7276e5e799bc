"""Session files in the seed layout, rebuilt from the cluster; a NAME without -n finds its
namespace from the file; `list` says where it looked."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from kodama.store import SEED_FIELDS

from .conftest import Kodama

pytestmark = pytest.mark.cluster


def test_file_after_start_matches_the_cluster_and_comes_back(kodama: Kodama, testenv: Any) -> None:
    ns = kodama.namespace
    session = kodama.json("start", "seed")
    path = kodama.home / "sessions" / "seed.yaml"
    data = yaml.safe_load(path.read_text())
    assert list(data)[: len(SEED_FIELDS)] == list(SEED_FIELDS)
    assert all(data[f] is not None for f in SEED_FIELDS), data
    pod = json.loads(testenv.kubectl("get", "pod", "kodama-seed", "-n", ns, "-o", "json").stdout)
    pvcs = testenv.kubectl("get", "pvc", "-n", ns, "-o", "name").stdout.split()
    assert (data["name"], data["namespace"]) == ("seed", ns)
    assert data["podName"] == pod["metadata"]["name"]
    assert f"persistentvolumeclaim/{data['workspacePVC']}" in pvcs
    assert f"persistentvolumeclaim/{data['claudeHomePVC']}" in pvcs
    assert (data["branch"], data["baseBranch"], data["autoBranch"]) == ("kodama/seed", "main", True)
    assert data["commitHash"] == session["baseCommit"]
    assert data["repo"] == str(kodama.cwd) == data["sync"]["localPath"]
    assert data["sync"] == {"enabled": False, "localPath": str(kodama.cwd), "mutagenSession": None}
    assert data["status"] == "Running"
    assert data["createdAt"] == session["createdAt"]
    container = pod["spec"]["containers"][0]
    assert data["resources"]["cpu"] == container["resources"]["limits"]["cpu"]
    assert data["resources"]["memory"] == container["resources"]["limits"]["memory"]
    assert data["resources"]["storage"] == "1Gi"

    before = testenv.managed(ns)
    path.unlink()
    assert testenv.managed(ns) == before
    assert [s["name"] for s in kodama.json("list")["items"]] == ["seed"]
    again = yaml.safe_load(path.read_text())
    assert {k: again[k] for k in SEED_FIELDS if k not in ("updatedAt", "sync", "repo")} == {
        k: data[k] for k in SEED_FIELDS if k not in ("updatedAt", "sync", "repo")
    }
    kodama.run("stop", "seed")
    assert yaml.safe_load(path.read_text())["status"] == "Stopped"
    kodama.run("delete", "seed", "--yes")
    assert not path.exists()


def test_a_name_is_enough_and_list_says_where_it_looked(kodama: Kodama, testenv: Any) -> None:
    ns = kodama.namespace
    kodama.run("start", "alone")
    # The plane's kubeconfig context has no namespace: without -n commands look in "default".
    attached = kodama.run("attach", "alone", "--", "true", namespaced=False)
    assert f"using namespace {ns}" in attached.stderr
    got = json.loads(kodama.run("get", "alone", "-o", "json", namespaced=False).stdout)
    assert got["namespace"] == ns
    listed = kodama.run("list", namespaced=False)
    assert listed.stdout == ""
    assert "No sessions found in namespace default (-A lists every namespace)." in listed.stderr
    kodama.run("delete", "alone", "--yes", namespaced=False)
    assert testenv.managed(ns) == []
    missing = kodama.run("get", "alone", namespaced=False, check=False)
    assert missing.returncode == 1 and "not found in namespace default" in missing.stderr


def test_same_name_in_two_namespaces(kodama: Kodama, testenv: Any) -> None:
    other = kodama.namespace + "-b"
    testenv.kubectl("create", "namespace", other)
    try:
        kodama.run("start", "twin")
        kodama.run("start", "twin", "-n", other, namespaced=False)
        files = sorted(p.name for p in (kodama.home / "sessions").glob("*.yaml"))
        assert files == [f"twin.{other}.yaml", "twin.yaml"]
        assert (
            yaml.safe_load((kodama.home / "sessions" / "twin.yaml").read_text())["namespace"]
            == kodama.namespace
        )
        both = kodama.run("get", "twin", namespaced=False, check=False)
        assert both.returncode == 1 and "pass -n NAMESPACE" in both.stderr
        kodama.run("delete", "twin", "--yes", "-n", other, namespaced=False)
        kodama.run("delete", "twin", "--yes")
        assert not list((kodama.home / "sessions").glob("*.yaml"))
    finally:
        testenv.kubectl("delete", "namespace", other, "--wait=false", check=False)
