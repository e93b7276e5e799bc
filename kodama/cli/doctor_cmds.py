"""doctor: a checklist of what Kodama needs, each failing line with its fix."""

from __future__ import annotations

import click

from kodama.cli.context import get_obj, kube_options, progress
from kodama.cli.output import dump


@click.command()
@kube_options
@click.option(
    "--image-check",
    is_flag=True,
    help="Pull the configured image in a short-lived probe pod (deleted afterwards).",
)
@click.option("--storage-class", help="Check this StorageClass instead of the configured one.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def doctor(image_check: bool, storage_class: str | None, output: str) -> None:
    """Check kubectl, the cluster, permissions, Pod Security, storage and the image.

    Exits 1 when a check fails. Creates nothing, except the probe pod of --image-check.
    """
    from kodama.engine.doctor import Doctor, render

    engine = get_obj().engine()
    doc = Doctor(engine.config, lambda: engine.cluster, engine.namespace)
    with progress() as (render_events, cancel):
        report = doc.run(
            storage_class=storage_class,
            image_check=image_check,
            events=render_events,
            cancel=cancel,
        )
    if output == "json":
        click.echo(dump({**report.to_json_dict(), "ok": not report.failing}, "json"))
    else:
        click.echo(render(report))
    if report.failing:
        raise SystemExit(1)


COMMANDS = [doctor]
