"""`doctor`: what would make `start` fail, found before it runs, each with its fix.

Nothing is created to find out: permissions come from SelfSubjectAccessReview, Pod Security from
a server-side dry run of a session pod. Only `--image-check` starts a short-lived probe pod (and
deletes it) because only a node can tell whether an image can be pulled.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from kodama.config import DEFAULT_IMAGE, Config, LoadedConfig
from kodama.errors import Forbidden, KodamaError
from kodama.events import CancelToken, EventSink, Reporter, null_sink
from kodama.k8s import manifests, rbac
from kodama.k8s.cluster import Cluster
from kodama.k8s.kubectl import client_version
from kodama.k8s.status import FATAL_WAITING, SLOW_WAITING, pod_ready
from kodama.models import SessionSpec, _Model
from kodama.plan import pod_fields
from kodama.sync import session as sync

CheckStatus = Literal["ok", "warning", "failing"]
PSS_LABEL = "pod-security.kubernetes.io/enforce"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
IMAGE_BUILD_HINT = "`kubectl kodama image build --push REGISTRY/kodama-agent:TAG` builds it"
PROBE_TIMEOUT = 120.0
IMAGE_TOOLS = ("git", "tmux")
IMAGE_NEEDS = ("sh", "git")


class Check(_Model):
    name: str
    status: CheckStatus
    message: str
    fix: str | None = None


class DoctorReport(_Model):
    namespace: str | None = None
    context: str | None = None
    checks: list[Check] = Field(default_factory=list)

    @property
    def failing(self) -> bool:
        return any(c.status == "failing" for c in self.checks)

    def add(self, name: str, status: CheckStatus, message: str, fix: str | None = None) -> None:
        self.checks.append(Check(name=name, status=status, message=message, fix=fix))


MARK = {"ok": "ok", "warning": "warn", "failing": "FAIL"}


def render(report: DoctorReport) -> str:
    """The checklist as the CLI prints it and the language server logs it."""
    width = max((len(c.name) for c in report.checks), default=0)
    lines = []
    for c in report.checks:
        lines.append(f"{MARK[c.status]:<5} {c.name:<{width}}  {c.message}")
        if c.fix and c.status != "ok":
            lines.append(f"{'':<5} {'':<{width}}  fix: {c.fix}")
    failing = sum(c.status == "failing" for c in report.checks)
    warnings = sum(c.status == "warning" for c in report.checks)
    lines.append(
        f"{failing} failing, {warnings} warning(s)" if failing or warnings else "all checks ok"
    )
    return "\n".join(lines)


def probe_spec(cfg: Config, namespace: str, name: str) -> SessionSpec:
    """A session spec as `start` would build it from this configuration (for dry runs)."""
    return SessionSpec(
        name=name,
        namespace=namespace,
        **pod_fields(cfg),
        agent_kind="other",
    )


class Doctor:
    def __init__(
        self,
        config: Callable[[], LoadedConfig],
        cluster: Callable[[], Cluster],
        namespace: Callable[[], str],
    ) -> None:
        self._config = config
        self._cluster = cluster
        self._namespace = namespace

    def run(
        self,
        *,
        storage_class: str | None = None,
        image_check: bool = False,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
    ) -> DoctorReport:
        cancel = cancel or CancelToken()
        rep = Reporter(events, "")
        report = DoctorReport()
        cfg = self._check_config(report)
        if storage_class:
            cfg.storage.storage_class = storage_class
        self._check_local(report, cfg)
        rep.step("cluster", "Checking the cluster")
        try:
            ns = self._namespace()
            report.namespace = ns
            cluster = self._cluster()
            report.context = cluster.context
            version = cluster.server_version()
        except KodamaError as exc:
            report.add("cluster", "failing", f"cluster not reachable: {exc.message}", exc.hint)
            return report
        report.add(
            "cluster",
            "ok",
            f"{cluster.host} reachable, Kubernetes {version}"
            + (f" (context {cluster.context})" if cluster.context else ""),
        )
        cancel.check()
        rep.step("permissions", f"Checking permissions in namespace {ns}")
        can_create_pods = self._check_permissions(report, cluster, ns)
        cancel.check()
        self._check_pod_security(report, cluster, cfg, ns, can_create_pods)
        self._check_storage(report, cluster, cfg)
        cancel.check()
        if image_check and can_create_pods:
            rep.step("image", f"Pulling {cfg.image} in a probe pod")
            self._check_image_pull(report, cluster, cfg, ns, cancel)
        else:
            self._check_image_name(report, cfg, image_check)
        return report

    # -- local --------------------------------------------------------------------------------

    def _check_config(self, report: DoctorReport) -> Config:
        try:
            loaded = self._config()
        except KodamaError as exc:
            report.add("config", "failing", exc.message, "fix the file and key named above")
            return Config.model_validate({})
        files = ", ".join(loaded.sources) or "none (built-in defaults)"
        report.add("config", "ok", f"configuration valid; files: {files}")
        return loaded.config.model_copy(deep=True)

    def _check_local(self, report: DoctorReport, cfg: Config) -> None:
        version, binary = client_version()
        if version is None:
            report.add(
                "kubectl",
                "failing",
                f"kubectl not found or not working ({binary})",
                "install kubectl (https://kubernetes.io/docs/tasks/tools/) or set KODAMA_KUBECTL",
            )
        else:
            report.add("kubectl", "ok", f"kubectl {version} ({shutil.which(binary) or binary})")
        if shutil.which("git") is None:
            report.add(
                "git", "warning", "git not found: start cannot ship a checkout, fetch and pr fail"
            )
        else:
            report.add("git", "ok", "git found")
        if not cfg.sync.enabled:
            report.add("mutagen", "ok", "file sync is turned off (sync.enabled: false)")
        elif sync.available():
            report.add("mutagen", "ok", "mutagen found: start keeps your checkout in sync")
        else:
            report.add(
                "mutagen",
                "warning",
                "mutagen not found: start runs without file sync",
                sync.INSTALL_HINT,
            )

    # -- cluster ------------------------------------------------------------------------------

    def _check_permissions(self, report: DoctorReport, cluster: Cluster, ns: str) -> bool:
        wanted = rbac.permissions()
        missing = [f"{verb} {res}" for verb, res in wanted if not cluster.can_i(verb, res, ns)[0]]
        if missing:
            report.add(
                "permissions",
                "failing",
                f"missing in namespace {ns}: {', '.join(missing)}",
                f"a namespace admin runs `kubectl kodama rbac -n {ns} --user YOU "
                "| kubectl apply -f -` (or --serviceaccount NS:NAME)",
            )
        else:
            report.add("permissions", "ok", f"all {len(wanted)} permissions in namespace {ns}")
        return "create pods" not in missing

    def _check_pod_security(
        self, report: DoctorReport, cluster: Cluster, cfg: Config, ns: str, can_create: bool
    ) -> None:
        level = None
        known = True
        try:
            labels = cluster.namespace_labels(ns)
        except Forbidden:
            known, labels = False, {}
        if labels is None:
            report.add(
                "namespace",
                "failing",
                f"namespace {ns} does not exist",
                f"`kubectl create namespace {ns}`, or pick another with -n",
            )
            return
        level = labels.get(PSS_LABEL)
        where = (
            f"namespace {ns} enforces Pod Security {level!r}"
            if level
            else f"namespace {ns} enforces no Pod Security level"
            if known
            else f"namespace {ns}'s Pod Security level is not readable"
        )
        if not can_create:
            report.add("pod-security", "warning", f"{where}; not checked without create pods")
            return
        pod = manifests.pod(probe_spec(cfg, ns, "doctor-" + secrets.token_hex(3)))
        try:
            cluster.create(pod, dry_run=True)
        except KodamaError as exc:
            report.add(
                "pod-security",
                "failing" if "PodSecurity" in exc.message else "warning",
                f"{where}; a session pod is refused: {exc.message}",
                exc.hint,
            )
            return
        report.add("pod-security", "ok", f"{where}; a session pod complies (server-side dry run)")

    def _check_storage(self, report: DoctorReport, cluster: Cluster, cfg: Config) -> None:
        wanted = cfg.storage.storage_class
        try:
            classes = cluster.storage_classes()
        except Forbidden:
            report.add(
                "storage",
                "warning",
                "cannot list StorageClasses (a cluster-scoped read): not checked",
                "ask an admin which class to use and set storage.storageClass",
            )
            return
        names = [c["metadata"]["name"] for c in classes]
        choose = f"one of: {', '.join(names)}" if names else "a class an admin creates"
        if wanted:
            if wanted in names:
                report.add("storage", "ok", f"StorageClass {wanted} exists")
            else:
                report.add(
                    "storage",
                    "failing",
                    f"StorageClass {wanted} does not exist: the PVCs would stay Pending",
                    f"set storage.storageClass (or --storage-class) to {choose}",
                )
            return
        defaults = [
            c["metadata"]["name"]
            for c in classes
            if ((c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS)) == "true"
        ]
        if defaults:
            report.add("storage", "ok", f"default StorageClass {defaults[0]}")
        else:
            report.add(
                "storage",
                "failing",
                "no default StorageClass: the PVCs would stay Pending",
                f"set storage.storageClass (or --storage-class) to {choose}, "
                f"or mark one default ({DEFAULT_CLASS}=true)",
            )

    def _check_image_name(self, report: DoctorReport, cfg: Config, asked: bool) -> None:
        if cfg.image == DEFAULT_IMAGE:
            report.add(
                "image",
                "warning",
                f"image {cfg.image} is the built-in default, which is not published",
                f"{IMAGE_BUILD_HINT} and records it in ~/.kodama/config.yaml",
            )
        elif asked:
            report.add("image", "warning", f"image {cfg.image}: pull not checked (no create pods)")
        else:
            report.add("image", "ok", f"image {cfg.image} (pull not checked: --image-check)")

    def _check_image_pull(
        self, report: DoctorReport, cluster: Cluster, cfg: Config, ns: str, cancel: CancelToken
    ) -> None:
        name = "kodama-doctor-" + secrets.token_hex(3)
        body = manifests.probe_pod(probe_spec(cfg, ns, name.removeprefix("kodama-")), name)
        problem: list[str] = []

        def done(pod: dict[str, Any] | None) -> bool:
            if pod_ready(pod):
                return True
            for cs in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in FATAL_WAITING | SLOW_WAITING:
                    problem.append(
                        f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
                    )
                    return True
            return False

        missing: list[str] = []
        try:
            cluster.create(body)
            try:
                cluster.wait_pod(name, ns, PROBE_TIMEOUT, cancel, done)
            except KodamaError as exc:
                problem.append(exc.message)
            if not problem:
                missing = self._missing_tools(cluster, name, ns)
        except KodamaError as exc:
            problem.append(exc.message)
        finally:
            with contextlib.suppress(KodamaError):
                cluster.delete("Pod", name, ns, grace=0)
        if problem:
            report.add(
                "image",
                "failing",
                f"image {cfg.image} cannot run: {problem[0]}",
                f"check the name and the registry's pull access; {IMAGE_BUILD_HINT}",
            )
            return
        report.add("image", "ok", f"image {cfg.image} pulled and started in a probe pod")
        needed = [t for t in missing if t in IMAGE_NEEDS]
        if needed or missing:
            report.add(
                "image-tools",
                "failing" if needed else "warning",
                f"the image lacks {', '.join(missing)}"
                + ("" if needed else ": the agent ends when you detach"),
                f"add them to the image; {IMAGE_BUILD_HINT}",
            )
        else:
            report.add("image-tools", "ok", f"the image has {', '.join(IMAGE_TOOLS)}")

    @staticmethod
    def _missing_tools(cluster: Cluster, pod: str, ns: str) -> list[str]:
        """What Kodama runs in the pod (sh, git; tmux keeps the agent across attaches)."""
        script = 'for t in "$@"; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done; echo .'
        try:
            out = cluster.exec_output(
                pod, ns, manifests.CONTAINER, ["sh", "-c", script, "sh", *IMAGE_TOOLS]
            )
        except KodamaError:
            return []  # e.g. no pods/exec: the permissions line says so already
        lines = out.split()
        if not lines or lines[-1] != ".":
            return ["sh"]
        return lines[:-1]
