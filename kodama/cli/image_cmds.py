"""image build | dockerfile: the default agent image in one command."""

from __future__ import annotations

import click

from kodama.cli.context import kube_options, progress
from kodama.cli.output import dump


@click.group(name="image")
def image_group() -> None:
    """Build the agent image (Dockerfile shipped with Kodama)."""


@image_group.command(name="build")
@kube_options
@click.option("--push", "push", metavar="REF", help="Push to REF and record it as `image:`.")
@click.option("-t", "--tag", help="Local tag when not pushing (default kodama-agent:latest).")
@click.option(
    "--builder",
    type=click.Choice(["docker", "podman", "buildah", "nerdctl"]),
    help="Builder to use (default: the first installed of these, in this order).",
)
@click.option("--base", metavar="IMAGE", help="Base image (the Dockerfile's FROM build argument).")
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Build argument (repeatable).",
)
@click.option(
    "-f",
    "--file",
    "dockerfile",
    metavar="PATH",
    help="Build this Dockerfile instead (its folder is the context).",
)
@click.option(
    "--tls-verify/--no-tls-verify",
    default=True,
    help="--no-tls-verify: a plain-HTTP or self-signed registry (podman, buildah, nerdctl).",
)
@click.option("--no-record", is_flag=True, help="Do not write `image:` to ~/.kodama/config.yaml.")
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]), default=None)
def build_cmd(
    push: str | None,
    tag: str | None,
    builder: str | None,
    base: str | None,
    build_args: tuple[str, ...],
    dockerfile: str | None,
    tls_verify: bool,
    no_record: bool,
    output: str | None,
) -> None:
    """Build the agent image with docker, podman, buildah or nerdctl; push it with --push.

    \b
      kubectl kodama image build --push registry.example.com/team/kodama-agent:1
    records `image: registry.example.com/team/kodama-agent:1` in ~/.kodama/config.yaml.
    """
    from kodama.engine.image import build
    from kodama.validation import parse_key_value

    args = [parse_key_value(a, "--build-arg") for a in build_args]
    with progress() as (render, cancel):
        result = build(
            tag=tag,
            push=push,
            builder=builder,
            base=base,
            build_args=args,
            dockerfile=dockerfile,
            tls_verify=tls_verify,
            record=not no_record,
            events=render,
            cancel=cancel,
        )
    if output:
        click.echo(dump(result.to_json_dict(), output))
    else:
        click.echo(result.pushed or result.tag)


@image_group.command(name="dockerfile")
def dockerfile_cmd() -> None:
    """Print the Dockerfile of the agent image (to build it elsewhere or extend it)."""
    from kodama.engine.image import packaged_dockerfile

    click.echo(packaged_dockerfile(), nl=False)


COMMANDS = [image_group]
