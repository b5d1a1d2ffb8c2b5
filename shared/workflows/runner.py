"""`t2b workflows run`: the rendered Argo DAG walked locally, each container step a local process.

Hera has no local runner, so this walks the rendered WorkflowTemplate itself: tasks in dependency
order, independent ones at once (up to `spec.parallelism`), `{{...}}` variables substituted, output
parameters read from the files the step wrote, artifacts kept per task in the run folder, retries
as `retryStrategy` says (limit, expression on the exit code, backoff), `when` conditions, deadlines,
then the `onExit` template with `workflow.status`/`failures`/`duration`. The container's `t2b` is
this venv's `t2b` (launcher.py: how a step process starts), run from the repository (the image's
working directory); each step's pod scratch root /t2b is its own folder under the run folder. The
ConfigMap/Secret (`envFrom`) are stood in for by this process's environment, i.e. the embedded defaults
unless variables say otherwise.

Everything else Argo could do is refused by `unsupported()` at render time, so a template never
quietly means something else here than in the cluster.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.cli.errors import CommandError, ExitCode
from shared.workflows import launcher

POD_ROOT = "/t2b"
REPO = Path(__file__).resolve().parents[2]

# Argo fields this runner implements (or that have no meaning on one machine, marked "no local effect").
# Anything not listed makes `unsupported()` name it.
ALLOWED: dict[str, set[str]] = {
    "document": {"apiVersion", "kind", "metadata", "spec"},
    "spec": {
        "entrypoint",
        "onExit",
        "arguments",
        "templates",
        "parallelism",
        "activeDeadlineSeconds",
        "serviceAccountName",  # no local effect
        "podGC",  # no local effect: there are no pods
        "ttlStrategy",  # no local effect: the run folder stays
        "artifactRepositoryRef",  # locally the run folder is the artifact repository
        "volumes",  # only the emptyDir scratch volume at POD_ROOT, which is each step's own folder here
    },
    "template": {"name", "dag", "container", "inputs", "outputs", "retryStrategy", "activeDeadlineSeconds", "metadata"},
    # resources: no local effect; volumeMounts: only the scratch volume at POD_ROOT
    "container": {"image", "command", "args", "envFrom", "env", "resources", "volumeMounts"},
    "task": {"name", "template", "dependencies", "when", "arguments"},
    "parameter": {"name", "value", "default", "description", "enum", "valueFrom"},
    "artifact": {"name", "path", "from"},
    "retryStrategy": {"limit", "retryPolicy", "expression", "backoff"},
    "backoff": {"duration", "factor", "maxDuration"},
}
POD_PATH = re.compile(rf"(^|=){re.escape(POD_ROOT)}(?=/|$)")
VARIABLE = re.compile(r"{{\s*([^{}]+?)\s*}}")
KNOWN_VARIABLES = re.compile(
    r"^(workflow\.(name|uid|status|failures|duration|parameters\.[\w-]+)"
    r"|inputs\.parameters\.[\w-]+|tasks\.[\w-]+\.outputs\.(parameters|artifacts)\.[\w-]+)$"
)
RETRY_EXPRESSION = re.compile(r"^asInt\(lastRetry\.exitCode\) (==|!=) (\d+)$")
WHEN = re.compile(r"^\s*(\S*)\s*(==|!=)\s*(\S*)\s*$")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
RETRY_POLICIES = {"Always", "OnFailure"}  # a local process can only fail, so both retry the same


class WorkflowError(CommandError):
    """The workflow cannot be run as written (unknown name, bad parameter, unsupported feature)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.BAD_INPUT)


# --- what the runner refuses ---------------------------------------------------------------------


def unsupported(document: Mapping[str, Any]) -> list[str]:
    """Every field or value of a rendered WorkflowTemplate this runner does not implement."""
    problems: list[str] = []

    def check(where: str, value: Mapping[str, Any], kind: str) -> None:
        problems.extend(f"{where}.{key}" for key in value if key not in ALLOWED[kind])

    check("", document, "document")
    spec = document.get("spec", {})
    check("spec", spec, "spec")
    scratch = {volume["name"] for volume in spec.get("volumes", []) if set(volume) == {"name", "emptyDir"}}
    if len(scratch) != len(spec.get("volumes", [])):
        problems.append("spec.volumes (only emptyDir)")
    for index, parameter in enumerate(spec.get("arguments", {}).get("parameters", [])):
        check(f"spec.arguments.parameters[{index}]", parameter, "parameter")
    if set(spec.get("arguments", {})) - {"parameters"}:
        problems.append("spec.arguments (only parameters)")
    for template in spec.get("templates", []):
        where = f"templates[{template.get('name')}]"
        check(where, template, "template")
        if ("dag" in template) == ("container" in template):
            problems.append(f"{where}: exactly one of dag or container")
        for io in ("inputs", "outputs"):
            for kind in ("parameters", "artifacts"):
                for item in template.get(io, {}).get(kind, []):
                    check(f"{where}.{io}.{kind}[{item.get('name')}]", item, kind[:-1])
                    if set(item.get("valueFrom", {})) - {"path"}:
                        problems.append(f"{where}.{io}.{kind}[{item.get('name')}].valueFrom (only path)")
            if set(template.get(io, {})) - {"parameters", "artifacts"}:
                problems.append(f"{where}.{io} (only parameters and artifacts)")
        if "dag" in template:
            if set(template["dag"]) - {"tasks"}:
                problems.append(f"{where}.dag (only tasks)")
            for task in template["dag"].get("tasks", []):
                check(f"{where}.dag.tasks[{task.get('name')}]", task, "task")
                for kind in task.get("arguments", {}):
                    for item in task["arguments"][kind]:
                        check(f"{where}.dag.tasks[{task.get('name')}].arguments", item, kind[:-1])
        if "container" in template:
            check(f"{where}.container", template["container"], "container")
            for mount in template["container"].get("volumeMounts", []):
                if mount != {"name": mount.get("name"), "mountPath": POD_ROOT} or mount["name"] not in scratch:
                    problems.append(f"{where}.container.volumeMounts (only an emptyDir at {POD_ROOT})")
            for source in template["container"].get("envFrom", []):
                if set(source) - {"configMapRef", "secretRef"}:
                    problems.append(f"{where}.container.envFrom (only configMapRef/secretRef)")
        retry = template.get("retryStrategy")
        if retry:
            check(f"{where}.retryStrategy", retry, "retryStrategy")
            check(f"{where}.retryStrategy.backoff", retry.get("backoff", {}), "backoff")
            if retry.get("expression") and not RETRY_EXPRESSION.match(retry["expression"]):
                problems.append(f"{where}.retryStrategy.expression {retry['expression']!r}")
            if retry.get("retryPolicy", "Always") not in RETRY_POLICIES:
                problems.append(f"{where}.retryStrategy.retryPolicy {retry['retryPolicy']!r}")
    for text in _strings(spec):
        for name in VARIABLE.findall(text):
            if not KNOWN_VARIABLES.match(name):
                problems.append(f"variable {{{{{name}}}}}")
    for template in spec.get("templates", []):
        for task in template.get("dag", {}).get("tasks", []):
            if task.get("when") and not WHEN.match(task["when"]):
                problems.append(f"templates[{template['name']}].dag.tasks[{task['name']}].when {task['when']!r}")
    return sorted(set(problems))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# --- one run --------------------------------------------------------------------------------------


@dataclass
class Node:
    """One task of one run, as the progress view shows it."""

    name: str
    phase: str = "Pending"  # Pending | Running | Succeeded | Failed | Skipped | Omitted
    attempts: int = 0
    exit_code: int | None = None
    message: str = ""
    template: str = ""
    started: float | None = None
    finished: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    log: Path | None = None

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started


Listener = Callable[[Node], None]


def _quiet(_node: Node) -> None:
    return None


@dataclass
class Run:
    document: dict[str, Any]
    parameters: dict[str, str]
    folder: Path
    name: str
    backoff_scale: float = 1.0
    listener: Listener = _quiet
    nodes: dict[str, Node] = field(default_factory=dict)
    status: str = "Running"
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def spec(self) -> dict[str, Any]:
        return self.document["spec"]

    def template(self, name: str) -> dict[str, Any]:
        for template in self.spec["templates"]:
            if template["name"] == name:
                return template
        raise WorkflowError(f"no template named {name!r}")

    @property
    def deadline(self) -> float | None:
        seconds = self.spec.get("activeDeadlineSeconds")
        return self.started + float(seconds) if seconds else None

    def failed_node(self) -> Node | None:
        failed = [node for node in self.nodes.values() if node.phase == "Failed"]
        return min(failed, key=lambda node: node.finished or 0.0) if failed else None

    # --- variables -------------------------------------------------------------------------------

    def workflow_scope(self) -> dict[str, str]:
        scope = {"workflow.name": self.name, "workflow.uid": self.name}
        scope |= {f"workflow.parameters.{key}": value for key, value in self.parameters.items()}
        for node in self.nodes.values():
            scope |= {f"tasks.{node.name}.outputs.parameters.{k}": v for k, v in node.outputs.items()}
            scope |= {f"tasks.{node.name}.outputs.artifacts.{k}": str(v) for k, v in node.artifacts.items()}
        if self.status != "Running":
            scope |= {
                "workflow.status": self.status,
                "workflow.duration": f"{time.monotonic() - self.started:.6f}",
                "workflow.failures": json.dumps(self._failures()),
            }
        return scope

    def _failures(self) -> list[dict[str, str]]:
        return [
            {
                "displayName": node.name,
                "message": node.message,
                "templateName": node.template,
                "phase": node.phase,
                "podName": f"{self.name}-{node.name}",
                "finishedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            for node in self.nodes.values()
            if node.phase == "Failed"
        ]

    # --- templates ---------------------------------------------------------------------------------

    def run_dag(self, template: dict[str, Any], prefix: str = "") -> bool:
        """Run every task; True when none failed. After a failure no new task starts (Argo's failFast)."""
        tasks = {task["name"]: task for task in template["dag"]["tasks"]}
        nodes = {name: self._node(prefix + name) for name in tasks}
        parallelism = int(self.spec.get("parallelism") or os.cpu_count() or 1)
        running: dict[Future[bool], str] = {}
        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="step") as pool:
            while True:
                failed = any(node.phase == "Failed" for node in nodes.values())
                for name, task in tasks.items():
                    node = nodes[name]
                    if node.phase != "Pending" or name in running.values():
                        continue
                    upstream = [nodes[dep] for dep in task.get("dependencies") or []]
                    if failed or any(dep.phase in ("Failed", "Omitted") for dep in upstream):
                        self._set(node, "Omitted", "an upstream step failed" if not failed else "the workflow failed")
                    elif len(running) < parallelism and all(dep.phase in ("Succeeded", "Skipped") for dep in upstream):
                        running[pool.submit(self.run_task, task, node)] = name
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    future.result()
        return all(node.phase in ("Succeeded", "Skipped") for node in nodes.values())

    def run_task(self, task: dict[str, Any], node: Node) -> bool:
        scope = self.workflow_scope()
        if task.get("when") and not _when(substitute(task["when"], scope)):
            self._set(node, "Skipped", f"when {substitute(task['when'], scope)!r} is false")
            return True
        template = self.template(task["template"])
        node.template = template["name"]
        arguments = task.get("arguments", {})
        parameters = {p["name"]: substitute(str(p["value"]), scope) for p in arguments.get("parameters", [])}
        artifacts = {a["name"]: Path(substitute(a["from"], scope)) for a in arguments.get("artifacts", [])}
        if "dag" in template:
            self._set(node, "Running")
            ok = self.run_dag(template, prefix=f"{node.name}.")
            self._set(node, "Succeeded" if ok else "Failed", "" if ok else "a step failed")
            return ok
        return self.run_container(template, node, parameters, artifacts)

    def run_container(
        self, template: dict[str, Any], node: Node, parameters: dict[str, str], artifacts: dict[str, Path]
    ) -> bool:
        inputs = template.get("inputs", {})
        scope = self.workflow_scope()
        for parameter in inputs.get("parameters", []):
            value = parameters.get(parameter["name"], parameter.get("value", parameter.get("default")))
            if value is None:
                raise WorkflowError(f"step {node.name}: input parameter {parameter['name']} has no value")
            scope[f"inputs.parameters.{parameter['name']}"] = str(value)
        for artifact in inputs.get("artifacts", []):
            self._copy(artifacts[artifact["name"]], Path(self.local(artifact["path"], node)))
        container = template["container"]
        words = [*container.get("command", []), *container.get("args", [])]
        argv = [self.local(substitute(word, scope), node) for word in words]
        env = {
            **os.environ,
            **{e["name"]: substitute(str(e.get("value", "")), scope) for e in container.get("env", [])},
        }
        node.log = self.folder / "logs" / f"{node.name}.log"
        node.log.parent.mkdir(parents=True, exist_ok=True)
        retry = template.get("retryStrategy") or {}
        limit = int(retry.get("limit", 0))
        for attempt in range(limit + 1):
            node.attempts = attempt + 1
            self._set(node, "Running")
            code, message = self._execute(argv, env, node.log, template.get("activeDeadlineSeconds"))
            node.exit_code = code
            if code == 0:
                self._collect(template, node)
                self._set(node, "Succeeded")
                return True
            node.message = message
            if attempt < limit and _retryable(retry, code):
                self._set(node, "Retrying", f"{message}; attempt {attempt + 2} of {limit + 1} after backoff")
                time.sleep(_backoff(retry.get("backoff"), attempt) * self.backoff_scale)
                continue
            break
        self._set(node, "Failed", node.message)
        return False

    def _execute(self, argv: list[str], env: dict[str, str], log: Path, deadline_s: Any) -> tuple[int, str]:
        limits = [float(deadline_s)] if deadline_s else []
        if self.deadline is not None:
            limits.append(max(self.deadline - time.monotonic(), 0.0))
        with log.open("a") as out:
            out.write(f"$ {' '.join(argv)}\n")
        try:
            process = launcher.start(argv, env, REPO, log)
        except FileNotFoundError as error:
            raise WorkflowError(str(error)) from None
        try:
            code = process.wait(min(limits) if limits else None)
        except BaseException:
            process.kill()
            raise
        if code is None:
            process.kill()
            return -9, f"deadline of {min(limits):.0f} s exceeded"
        return code, f"exit code {code}: {_last_line(log)}"

    def _collect(self, template: dict[str, Any], node: Node) -> None:
        outputs = template.get("outputs", {})
        for parameter in outputs.get("parameters", []):
            path = Path(self.local(parameter["valueFrom"]["path"], node))
            if not path.is_file():
                raise WorkflowError(f"step {node.name}: output parameter {parameter['name']} not written to {path}")
            node.outputs[parameter["name"]] = path.read_text().strip()
        for artifact in outputs.get("artifacts", []):
            stored = self.folder / "artifacts" / node.name / artifact["name"]
            self._copy(Path(self.local(artifact["path"], node)), stored)
            node.artifacts[artifact["name"]] = stored

    # --- helpers -----------------------------------------------------------------------------------

    def local(self, text: str, node: Node) -> str:
        """The pod's scratch paths (/t2b/..., also as `name=/t2b/...`) in this step's own folder: like pods,
        steps share no files; artifacts are copied from the producer's outputs into the consumer's folder."""
        pod = self.folder / "pods" / node.name
        return POD_PATH.sub(lambda match: match[1] + str(pod), text)

    @staticmethod
    def _copy(source: Path, target: Path) -> None:
        if not source.exists():
            raise WorkflowError(f"artifact {source} does not exist")
        if source.resolve() == target.resolve():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)

    def _node(self, name: str) -> Node:
        with self._lock:
            node = self.nodes.setdefault(name, Node(name))
        self.listener(node)
        return node

    def _set(self, node: Node, phase: str, message: str = "") -> None:
        now = time.monotonic()
        if phase == "Running" and node.started is None:
            node.started = now
        if phase in ("Succeeded", "Failed", "Skipped", "Omitted"):
            node.finished = now
        node.phase = phase
        if message:
            node.message = message
        self.listener(node)


def substitute(text: str, scope: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        try:
            return scope[match[1]]
        except KeyError:
            raise WorkflowError(f"{{{{{match[1]}}}}} has no value here") from None

    return VARIABLE.sub(value, text)


def _when(expression: str) -> bool:
    match = WHEN.match(expression)
    if not match:
        raise WorkflowError(f"when {expression!r}: only `a == b` and `a != b` are supported")
    left, operator, right = match.groups()
    return (left == right) == (operator == "==")


def _retryable(retry: Mapping[str, Any], code: int) -> bool:
    expression = retry.get("expression")
    if not expression:
        return True
    match = RETRY_EXPRESSION.match(expression)
    if not match:
        raise WorkflowError(f"retryStrategy.expression {expression!r} is not supported")
    operator, value = match.groups()
    return (code == int(value)) == (operator == "==")


def _seconds(text: str) -> float:
    match = DURATION.match(str(text))
    if not match:
        raise WorkflowError(f"duration {text!r}: use a number with ms, s, m or h")
    number, unit = float(match[1]), match[2]
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def _backoff(backoff: Mapping[str, Any] | None, attempt: int) -> float:
    if not backoff:
        return 0.0
    delay = _seconds(backoff.get("duration", "0s")) * float(backoff.get("factor", 1)) ** attempt
    cap = backoff.get("maxDuration")
    return min(delay, _seconds(cap)) if cap else delay


def _last_line(log: Path) -> str:
    text = log.read_text(errors="replace")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("$ ")]  # not our echo
    return lines[-1].strip()[:300] if lines else "no output"


# --- entry point ------------------------------------------------------------------------------------


def parameters_for(document: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """The workflow's parameters: embedded defaults, then -p key=value; unknown names and enum misses refused."""
    declared = {p["name"]: p for p in document["spec"].get("arguments", {}).get("parameters", [])}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise WorkflowError(f"unknown parameter {unknown[0]!r} (known: {', '.join(sorted(declared))})")
    values = {name: str(p.get("value", p.get("default", ""))) for name, p in declared.items()} | dict(overrides)
    for name, value in values.items():
        enum = declared[name].get("enum")
        if enum and value not in enum:
            raise WorkflowError(f"parameter {name}={value!r} is not one of {', '.join(enum)}")
    return values


def run_workflow(
    document: dict[str, Any],
    overrides: Mapping[str, str],
    runs_dir: Path,
    listener: Listener = _quiet,
    backoff_scale: float = 1.0,
) -> Run:
    problems = unsupported(document)
    if problems:
        raise WorkflowError(f"not runnable locally: {', '.join(problems)}")
    name = f"{document['metadata']['name']}-{uuid.uuid4().hex[:5]}"
    run = Run(
        document=document,
        parameters=parameters_for(document, overrides),
        folder=(runs_dir / name).resolve(),
        name=name,
        backoff_scale=backoff_scale,
        listener=listener,
    )
    run.folder.mkdir(parents=True)
    ok = run.run_dag(run.template(run.spec["entrypoint"]))
    run.status = "Succeeded" if ok else "Failed"
    exit_template = run.spec.get("onExit")
    if exit_template:
        exit_node = run._node("onExit")
        run.run_task({"name": "onExit", "template": exit_template}, exit_node)
    return run
