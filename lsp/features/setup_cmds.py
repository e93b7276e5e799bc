"""Server commands about the setup rather than a session: doctor, config view, rbac."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from .commands import Call, Handler, RootArgs, _Args


class DoctorArgs(_Args):
    image_check: bool = False
    storage_class: str | None = None


async def doctor(call: Call) -> dict[str, Any]:
    """The CLI's `doctor` checklist; the summary is shown, every line goes to the log."""
    from kodama.engine.doctor import Doctor, render

    a = call.parse(DoctorArgs)
    engine = call.engine()
    doc = Doctor(engine.config, lambda: engine.cluster, engine.namespace)
    report = await call.with_progress(
        "Kodama: doctor",
        lambda sink, cancel: doc.run(
            storage_class=a.storage_class, image_check=a.image_check, events=sink, cancel=cancel
        ),
    )
    text = render(report)
    call.ls.log(f"kodama doctor:\n{text}", types.MessageType.Info)
    bad = [c for c in report.checks if c.status != "ok"]
    summary = "; ".join(f"{c.status}: {c.message}" for c in bad) or "all checks ok"
    level = types.MessageType.Error if report.failing else types.MessageType.Info
    call.ls.window_show_message(
        types.ShowMessageParams(type=level, message=f"Kodama doctor: {summary}")
    )
    return {**report.to_json_dict(), "ok": not report.failing, "text": text}


async def config_view(call: Call) -> dict[str, Any]:
    """The merged configuration for the checkout (the CLI's `config view`), as YAML text."""
    import yaml

    from kodama.config import load_config

    root = call.root(call.parse(RootArgs).root)
    loaded = await call.ls.in_thread(load_config, root)
    text = yaml.safe_dump(loaded.view(), sort_keys=False, default_flow_style=False)
    return {"text": text, "sources": loaded.sources}


class RbacArgs(_Args):
    user: str | None = None
    service_account: str | None = None  # serviceAccount on the wire
    namespace: str | None = None


async def rbac_show(call: Call) -> dict[str, Any]:
    """The Role (and RoleBindings) Kodama needs, as `kubectl kodama rbac` prints them."""
    from kodama.k8s.rbac import check_subjects, rbac_objects, rbac_yaml
    from kodama.validation import validate_namespace

    a = call.parse(RbacArgs)
    check_subjects(a.user, a.service_account)
    ns = a.namespace
    if not ns:  # the session namespace, as every command's (kubeconfig, then config files)
        engine = call.engine()
        ns = await call.ls.in_thread(engine.namespace)
    validate_namespace(ns)
    objs = rbac_objects(ns, a.user, a.service_account)
    return {"text": rbac_yaml(objs) + "\n", "namespace": ns}


COMMANDS: dict[str, Handler] = {
    "kodama.doctor": doctor,
    "kodama.config.view": config_view,
    "kodama.rbac.show": rbac_show,
}
