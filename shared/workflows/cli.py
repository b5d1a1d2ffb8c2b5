"""`t2b workflows ...`: render the Hera pipelines, run one locally, lint or submit it to an Argo Server.

`step` and `notify` are what the containers of the rendered templates run; people use the others.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from shared.cli.errors import CommandError, ExitCode
from shared.config import get_settings

workflows_app = typer.Typer(help="Argo workflows: render, run locally, lint, submit.", no_args_is_help=True)
console = Console()


@workflows_app.command("render")
def render_command(
    folder: Path | None = typer.Option(None, help="Where the YAML goes (default: workflows/rendered)."),
) -> None:
    """Write every WorkflowTemplate and CronWorkflow of workflows/ as Argo YAML."""
    from shared.workflows.render import RENDERED, write_all

    for path in write_all(folder or RENDERED):
        console.print(str(path), highlight=False)


def _parameters(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"-p {pair!r}: expected key=value", ExitCode.BAD_INPUT)
        values[key] = value
    return values


@workflows_app.command("run")
def run_command(
    name: str = typer.Argument(..., help="A rendered WorkflowTemplate (etl, training, batch-scoring) or CronWorkflow."),
    parameter: list[str] = typer.Option([], "-p", "--parameter", help="key=value, as `argo submit -p`."),
    backoff_scale: float = typer.Option(1.0, min=0, help="Multiplies every retry backoff (tests shrink it)."),
) -> None:
    """Run the rendered DAG on this machine: each step a local `t2b` process, as its container would."""
    from shared.workflows.progress import Progress
    from shared.workflows.render import load
    from shared.workflows.runner import run_workflow

    document = load(name)
    progress = Progress(console, f"workflow {document['metadata']['name']}")
    with progress.shown():
        run = run_workflow(
            document,
            _parameters(parameter),
            get_settings().data_dir / "workflows",
            listener=progress,
            backoff_scale=backoff_scale,
        )
    for node in run.nodes.values():
        for key, value in node.outputs.items():
            console.print(f"{node.name}.{key} = {value}", highlight=False, markup=False)
    console.print(f"{run.name}: {run.status} in {run.folder}", highlight=False, markup=False)
    failed = run.failed_node()
    if run.status != "Succeeded":
        where = f"step {failed.name} failed: {failed.message}" if failed else "a step failed"
        raise CommandError(f"workflow {run.name} {where} (log: {failed.log if failed else run.folder})")


@workflows_app.command(
    "step",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def step_command(
    ctx: typer.Context,
    output: list[str] = typer.Option([], "--output", help="name=file.json:key, written to --outputs-dir/name."),
    outputs_dir: Path = typer.Option(Path("/t2b/outputs"), "--outputs-dir", help="Where output parameters go."),
    drop_empty: bool = typer.Option(False, "--drop-empty", help="Leave out every `--option ''` pair."),
) -> None:
    """Run `t2b ARGS...` in this process, then write the output parameters Argo reads (container steps only)."""
    from shared.cli.app import run
    from shared.workflows.outputs import drop_empty_options, parse_output, write_outputs

    outputs = [parse_output(item) for item in output]
    arguments = drop_empty_options(ctx.args) if drop_empty else list(ctx.args)
    code = run(arguments)
    if code == ExitCode.OK:
        write_outputs(outputs, outputs_dir)
    raise typer.Exit(code)


@workflows_app.command("notify")
def notify_command(
    pipeline: str = typer.Option(..., help="The WorkflowTemplate name."),
    workflow: str = typer.Option(..., help="{{workflow.name}}"),
    status: str = typer.Option(..., help="{{workflow.status}}"),
    duration: float = typer.Option(..., help="{{workflow.duration}}, seconds"),
    failures: str = typer.Option("[]", help="{{workflow.failures}}, JSON"),
) -> None:
    """The exit handler: publish io.time2bet.workflow.finished to the api broker."""
    from shared.workflows.runs import publish_finished

    event = publish_finished(pipeline, workflow, status, duration, failures)
    console.print(
        f"{event.workflow}: {event.status} in {event.duration_s:.1f} s"
        + (f", failed at {event.failed_step}" if event.failed_step else ""),
        highlight=False,
        markup=False,
    )


@workflows_app.command("lint")
def lint_command(name: str = typer.Argument(..., help="A rendered WorkflowTemplate or CronWorkflow.")) -> None:
    """Ask the Argo Server (ARGO_SERVER, ARGO_TOKEN, ARGO_NAMESPACE) whether the rendered YAML is valid."""
    from shared.workflows.argo import lint, service

    console.print(lint(name, service()), highlight=False, markup=False)


@workflows_app.command("submit")
def submit_command(
    name: str = typer.Argument(..., help="A rendered WorkflowTemplate (runs it) or CronWorkflow (schedules it)."),
    parameter: list[str] = typer.Option([], "-p", "--parameter", help="key=value, as `argo submit -p`."),
) -> None:
    """Create or update the template on the Argo Server, then submit a run of it (or install the cron)."""
    from shared.workflows.argo import service, submit

    submitted = submit(name, _parameters(parameter), service())
    console.print(f"{submitted.kind} {submitted.name} in namespace {submitted.namespace}", highlight=False)
