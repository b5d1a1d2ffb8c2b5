"""What every pipeline shares: the image, the retry policy, the exit handler and the Argo UI metadata.

Each step is a container template running one `t2b` command of the project's image; no ML logic lives
in a template body. Paths under POD_ROOT are the pod's scratch space: Argo moves files between pods as
artifacts in the S3 artifact repository (MinIO), and `t2b workflows run` maps POD_ROOT to a local run
folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version

from hera.workflows import (
    DAG,
    Artifact,
    Container,
    CronWorkflow,
    Parameter,
    Resources,
    RetryStrategy,
    Task,
    WorkflowTemplate,
)
from hera.workflows import models as m

from shared.cli.errors import ExitCode

# requirements/all.txt: `t2b` imports every command set at start-up, so its steps need every runtime set.
# Tagged with the package version, as the overlays tag every image (no `:latest`).
IMAGE = f"ghcr.io/time2bet/all:{version('time2bet')}"
SHARED_CONFIG = "time2bet-config"  # the same ConfigMap and Secret the Knative Services read
SHARED_SECRET = "time2bet-secrets"
SERVICE_ACCOUNT = "time2bet-workflows"
ARTIFACT_REPOSITORY = m.ArtifactRepositoryRef(config_map="artifact-repositories", key="minio")
POD_ROOT = "/t2b"  # scratch space of each pod; the local runner maps it to the run folder
OUTPUTS = f"{POD_ROOT}/outputs"  # one file per output parameter
# The image runs as a non-root user on a read-only-friendly root: the scratch space is an emptyDir.
SCRATCH = m.Volume(name="scratch", empty_dir=m.EmptyDirVolumeSource())
SCRATCH_MOUNT = m.VolumeMount(name="scratch", mount_path=POD_ROOT)
PARALLELISM = 2  # steps at once: Argo's limit and the local runner's worker count
NAMESPACE_LABEL = "time2bet.io/pipeline"

# Only a temporary failure (exit 75, the CLI's EX_TEMPFAIL) is worth another attempt: a bad input (2),
# a source that blocked us (3) or a plain failure (1) fails the same way again.
RETRY_ON_TEMPORARY = f"asInt(lastRetry.exitCode) == {ExitCode.TEMPORARY.value}"


def retry_strategy(limit: int = 3) -> RetryStrategy:
    return RetryStrategy(
        limit=limit,
        retry_policy="Always",  # the expression decides; "Always" lets it see errors and failures alike
        expression=RETRY_ON_TEMPORARY,
        backoff=m.Backoff(duration="30s", factor=2, max_duration="10m"),
    )


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(cpu_request=cpu, memory_request=memory, cpu_limit=cpu_limit, memory_limit=memory_limit)


# Any `t2b` process holds ~360-410 MB once started (it imports every command set; measured with
# /usr/bin/time on the demo data): below that a step is OOM-killed before it does anything.
T2B_BASELINE_MEMORY_MI = 400
SMALL = resources("100m", "384Mi", "500m", "768Mi")
MEDIUM = resources("250m", "512Mi", "1", "1Gi")
LARGE = resources("1", "1Gi", "2", "2Gi")


def param(name: str, value: str, description: str, enum: Sequence[str] | None = None) -> Parameter:
    return Parameter(name=name, value=value, description=description, enum=list(enum) if enum else None)


def wf(name: str) -> str:
    return f"{{{{workflow.parameters.{name}}}}}"


def output_file(name: str) -> str:
    return f"{OUTPUTS}/{name}"


@dataclass(frozen=True)
class Output:
    """An output parameter read from one key of a JSON file the command writes (see `t2b workflows step`)."""

    name: str
    json_file: str
    key: str
    description: str

    def flag(self) -> list[str]:
        return ["--output", f"{self.name}={self.json_file}:{self.key}"]

    def parameter(self) -> Parameter:
        return Parameter(
            name=self.name, description=self.description, value_from=m.ValueFrom(path=output_file(self.name))
        )


@dataclass(frozen=True)
class Step:
    """One container template: a `t2b` command, its files in and out, its outputs and resources."""

    name: str
    command: list[str]  # arguments of `t2b`
    description: str
    resources: Resources = field(default_factory=lambda: MEDIUM)
    inputs: list[Artifact] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)  # input parameters the command uses
    deadline_s: int = 3600
    # Argo cannot leave an argument out, so `t2b workflows step --drop-empty` drops `--option ""` pairs
    # (an empty parameter means "the command's default")
    drop_empty: bool = False

    def args(self) -> list[str]:
        if not (self.outputs or self.drop_empty):
            return self.command
        flags = [flag for out in self.outputs for flag in out.flag()]
        flags += ["--outputs-dir", OUTPUTS] if self.outputs else []
        flags += ["--drop-empty"] if self.drop_empty else []
        return ["workflows", "step", *flags, "--", *self.command]

    def container(self) -> Container:
        return Container(
            name=self.name,
            image=IMAGE,
            command=["t2b"],
            args=self.args(),
            inputs=[*(Parameter(name=p) for p in self.parameters), *self.inputs],
            outputs=[*(out.parameter() for out in self.outputs), *self.artifacts],
            env_from=[
                m.EnvFromSource(config_map_ref=m.ConfigMapEnvSource(name=SHARED_CONFIG)),
                m.EnvFromSource(secret_ref=m.SecretEnvSource(name=SHARED_SECRET)),
            ],
            resources=self.resources,
            volume_mounts=[SCRATCH_MOUNT],
            retry_strategy=retry_strategy(),
            active_deadline_seconds=self.deadline_s,
            annotations={"workflows.argoproj.io/description": self.description},
        )


@dataclass(frozen=True)
class Node:
    """A step's place in the DAG: what it waits for, when it runs, the input parameters it is given."""

    step: Step
    depends_on: Sequence[str] = ()
    when: str | None = None
    arguments: dict[str, str] = field(default_factory=dict)


def dag_tasks(nodes: Sequence[Node]) -> list[Task]:
    """DAG tasks; each input artifact comes from the one step of the pipeline that outputs it."""
    producers = {artifact.name: node.step.name for node in nodes for artifact in node.step.artifacts}
    tasks = []
    for node in nodes:
        artifacts = [
            m.Artifact(name=a.name, from_=f"{{{{tasks.{producers[a.name]}.outputs.artifacts.{a.name}}}}}")
            for a in node.step.inputs
        ]
        parameters = [Parameter(name=key, value=value) for key, value in node.arguments.items()]
        tasks.append(
            Task(
                name=node.step.name,
                template=node.step.name,
                dependencies=list(node.depends_on) or None,
                when=node.when,
                arguments=[*parameters, *artifacts] or None,
            )
        )
    return tasks


def exit_handler(pipeline: str) -> tuple[Container, DAG]:
    """Publishes io.time2bet.workflow.finished whatever happened; failures are only known on failure."""
    notify = Container(
        name="notify",
        image=IMAGE,
        command=["t2b"],
        args=[
            "workflows",
            "notify",
            "--pipeline",
            pipeline,
            "--workflow",
            "{{workflow.name}}",
            "--status",
            "{{inputs.parameters.status}}",
            "--duration",
            "{{workflow.duration}}",
            "--failures",
            "{{inputs.parameters.failures}}",
        ],
        inputs=[Parameter(name="status"), Parameter(name="failures", default="[]")],
        env_from=[
            m.EnvFromSource(config_map_ref=m.ConfigMapEnvSource(name=SHARED_CONFIG)),
            m.EnvFromSource(secret_ref=m.SecretEnvSource(name=SHARED_SECRET)),
        ],
        resources=SMALL,
        retry_strategy=retry_strategy(),
        active_deadline_seconds=300,
        annotations={"workflows.argoproj.io/description": "Publishes io.time2bet.workflow.finished to the api broker."},
    )
    handler = DAG(name="exit-handler")
    handler.tasks = [
        Task(
            name="succeeded",
            template=notify,
            when="{{workflow.status}} == Succeeded",
            arguments=[Parameter(name="status", value="{{workflow.status}}")],
        ),
        Task(
            name="failed",
            template=notify,
            when="{{workflow.status}} != Succeeded",
            arguments=[
                Parameter(name="status", value="{{workflow.status}}"),
                Parameter(name="failures", value="{{workflow.failures}}"),
            ],
        ),
    ]
    return notify, handler


@dataclass(frozen=True)
class Pipeline:
    name: str
    title: str
    description: str
    parameters: list[Parameter]
    nodes: list[Node]
    outputs: list[Parameter] = field(default_factory=list)
    deadline_s: int = 4 * 3600

    def template(self) -> WorkflowTemplate:
        notify, handler = exit_handler(self.name)
        main = DAG(name="main", tasks=dag_tasks(self.nodes), outputs=self.outputs or None)
        return WorkflowTemplate(
            name=self.name,
            labels=_labels(self.name),
            annotations=_annotations(self.title, self.description),
            entrypoint="main",
            on_exit="exit-handler",
            arguments=self.parameters,
            templates=[main, *(node.step.container() for node in self.nodes), handler, notify],
            service_account_name=SERVICE_ACCOUNT,
            active_deadline_seconds=self.deadline_s,
            parallelism=PARALLELISM,
            pod_gc=m.PodGC(strategy="OnPodSuccess", delete_delay_duration="10m"),
            ttl_strategy=m.TTLStrategy(seconds_after_success=7 * 86_400, seconds_after_failure=14 * 86_400),
            artifact_repository_ref=ARTIFACT_REPOSITORY,
            volumes=[SCRATCH],
        )


def _labels(pipeline: str) -> dict[str, str]:
    """A template's and its schedules' labels: the pipeline they belong to, in the time2bet part-of group."""
    return {NAMESPACE_LABEL: pipeline, "app.kubernetes.io/part-of": "time2bet"}


def _annotations(title: str, description: str) -> dict[str, str]:
    """The title and description the Argo UI shows."""
    return {"workflows.argoproj.io/title": title, "workflows.argoproj.io/description": description}


@dataclass(frozen=True)
class Schedule:
    pipeline: str
    name: str
    cron: str
    description: str
    arguments: dict[str, str] = field(default_factory=dict)
    timezone: str = "Europe/London"

    def cron_workflow(self) -> CronWorkflow:
        return CronWorkflow(
            name=self.name,
            labels=_labels(self.pipeline),
            annotations=_annotations(self.name, self.description),
            schedules=[self.cron],
            timezone=self.timezone,
            concurrency_policy="Forbid",
            starting_deadline_seconds=3600,
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=5,
            workflow_template_ref=m.WorkflowTemplateRef(name=self.pipeline),
            arguments=[Parameter(name=key, value=value) for key, value in self.arguments.items()] or None,
        )
