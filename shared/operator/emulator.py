"""kmock's Kubernetes emulator made faithful enough for kopf, run in a thread, plus a stand-in for
Knative's controller. Used by tests/operator and `t2b bench operator`; never by the operator itself.

kmock 0.8 as shipped (see the team's platform-testing notes) never sets resourceVersion, replays
every object on each WATCH, stores generateName'd objects under the name None and answers a failed
JSON-patch `test` with 500. This subclass keeps a global resourceVersion counter; sets uid,
creationTimestamp and generation on create and bumps generation when the spec changes; names
generateName'd objects; resumes a WATCH after the resourceVersion asked for, from a history of
events; answers a failed `test` with 422; and keeps `/status` apart from the rest of an object
for resources declared with the status subresource. kmock also matches every request against its
routes by scanning all the requests recorded so far, so a long run slows to seconds per request:
this subclass serves resource requests itself and leaves kmock's routes to discovery. It overrides
kmock's private `_handle` and `_serve_*` methods, hence `kmock==0.8` pinned exactly.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import json
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import httpx
import jsonpatch
import kmock
import yaml
from kmock._internal import dicts, rendering
from kmock._internal.apps import RawHandler

Key = tuple[Any, str | None, str]

BINDINGS = kmock.resource("time2bet.io", "v1alpha1", "modelbindings")
SERVICES = kmock.resource("serving.knative.dev", "v1", "services")
REVISIONS = kmock.resource("serving.knative.dev", "v1", "revisions")
EVENTS = kmock.resource("", "v1", "events")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class FaithfulEmulator(kmock.KubernetesEmulator):
    _resource_version: int = attrs.field(default=0, init=False)
    _history: list[tuple[int, Any, dict[str, Any]]] = attrs.field(factory=list, init=False)
    _changed: asyncio.Event | None = attrs.field(default=None, init=False)

    def declare(self, resource: kmock.resource, kind: str, *, namespaced: bool = True, status: bool = False) -> None:
        self.resources[resource] = kmock.ResourceInfo(
            kind=kind,
            namespaced=namespaced,
            subresources={"status"} if status else set(),
            verbs={"get", "list", "watch", "create", "patch", "update", "delete"},
        )

    def _has_status(self, resource: Any) -> bool:
        return resource in self.resources and "status" in self.resources[resource].subresources

    def _publish(self, resource: Any, kind: str, obj: dict[str, Any]) -> None:
        self._history.append((self._resource_version, resource, {"type": kind, "object": copy.deepcopy(obj)}))
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _next_version(self) -> str:
        self._resource_version += 1
        return str(self._resource_version)

    async def _error(self, exc: kmock.KubernetesError) -> aiohttp.web.StreamResponse:
        return await self._render_error(exc)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.resource is None or request.resource.plural is None:  # discovery: kmock's own routes
            return await RawHandler._handle(self, request)
        reads = {kmock.action.LIST: self._serve_list, kmock.action.WATCH: self._serve_watch}
        if request.name is not None:
            reads[kmock.action.FETCH] = self._serve_fetch
        if request.action in reads:
            # Served directly: kmock matches a request against its DSL routes by scanning every request
            # recorded so far, so each one costs more than the last (0.6 s after a few thousand).
            try:
                return await rendering.Response(payload=reads[request.action])(request)
            except kmock.KubernetesError as exc:
                return await self._error(exc)
        writes = {kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE}
        if request.action not in writes:
            return await RawHandler._handle(self, request)
        async with self._lock:
            try:
                if request.action == kmock.action.CREATE:
                    return aiohttp.web.json_response(self._create(request), status=201)
                if request.action == kmock.action.UPDATE and request.name is not None:
                    return aiohttp.web.json_response(self._patch(request))
                if request.action == kmock.action.DELETE and request.name is not None:
                    return aiohttp.web.json_response(self._delete(request))
            except kmock.KubernetesError as exc:
                return await self._error(exc)
        return await RawHandler._handle(self, request)

    def _create(self, request: rendering.Request) -> dict[str, Any]:
        obj = copy.deepcopy(request.data)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)
        namespace = request.namespace or meta.get("namespace")
        if namespace:
            meta["namespace"] = namespace
        key: Key = (request.resource, namespace, meta["name"])
        if key in self._objects and not self._objects[key].deleted:
            raise kmock.KubernetesError(409, "AlreadyExists", f"{meta['name']} already exists")
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1, resourceVersion=self._next_version())
        if self._has_status(request.resource):
            obj.pop("status", None)
        if key in self._objects:
            self._objects[key].create(obj)
        else:
            self._objects[key] = obj
        self._publish(request.resource, "ADDED", obj)
        return obj

    def _stored(self, request: rendering.Request) -> tuple[Key, dict[str, Any]]:
        key: Key = (request.resource, request.namespace, request.name or "")
        if key not in self._objects or self._objects[key].deleted:
            raise kmock.KubernetesObjectNotFoundError()
        return key, copy.deepcopy(self._objects[key].raw)

    def _patch(self, request: rendering.Request) -> dict[str, Any]:
        key, old = self._stored(request)
        try:
            new = dict(dicts.patch_dict(copy.deepcopy(old), request.data))
        except (jsonpatch.JsonPatchTestFailed, jsonpatch.JsonPatchConflict) as exc:
            raise kmock.KubernetesError(422, "Invalid", f"the JSON patch does not apply: {exc}") from None
        if self._has_status(request.resource):
            if request.subresource == "status":
                new = {**old, "status": new.get("status")}
            else:
                new["status"] = old.get("status")
            if new.get("status") is None:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        for immutable in ("name", "namespace", "uid", "creationTimestamp", "generation", "resourceVersion"):
            if immutable in old["metadata"]:
                meta[immutable] = old["metadata"][immutable]
        if new == old:
            return old  # a no-op patch changes no resourceVersion and sends no watch event
        if new.get("spec") != old.get("spec"):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        meta["resourceVersion"] = self._next_version()
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._objects[key].delete()
            self._publish(request.resource, "DELETED", new)
            return new
        self._objects[key].create(new)
        self._publish(request.resource, "MODIFIED", new)
        return new

    def _delete(self, request: rendering.Request) -> dict[str, Any]:
        key, obj = self._stored(request)
        meta = obj["metadata"]
        meta["resourceVersion"] = self._next_version()
        if meta.get("finalizers"):
            meta.setdefault("deletionTimestamp", _now())
            self._objects[key].create(obj)
            self._publish(request.resource, "MODIFIED", obj)
        else:
            self._objects[key].delete()
            self._publish(request.resource, "DELETED", obj)
        return obj

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        listed = await super()._serve_list(request)
        listed["metadata"] = {"resourceVersion": str(self._resource_version)}
        return listed

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        yield b""
        since = int(request.params.get("resourceVersion") or 0)
        position = bisect.bisect_right(self._history, since, key=lambda entry: entry[0])
        if not since:  # a watch without a list first starts with what exists
            for (resource, namespace, _), obj in list(self._objects.items()):
                if resource == request.resource and not obj.deleted and request.namespace in (None, namespace):
                    yield {"type": "ADDED", "object": obj.raw}
            position = len(self._history)
        while True:
            while position < len(self._history):
                _, resource, event = self._history[position]
                position += 1
                namespace = event["object"].get("metadata", {}).get("namespace")
                if resource == request.resource and request.namespace in (None, namespace):
                    yield event
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()


def make_emulator() -> FaithfulEmulator:
    emulator = FaithfulEmulator()
    emulator.resources.load_bundled()  # v1/namespaces and v1/events: kopf waits for them in discovery
    emulator.declare(BINDINGS, "ModelBinding", status=True)
    emulator.declare(SERVICES, "Service", status=True)
    emulator.declare(REVISIONS, "Revision", status=True)
    return emulator


class EmulatorThread:
    """The emulator served on 127.0.0.1 from an event loop of its own (kopf runs in another thread)."""

    def __init__(self, emulator: FaithfulEmulator | None = None) -> None:
        self.emulator = emulator or make_emulator()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._serve(),), daemon=True, name="kmock-emulator"
        )

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.emulator, kmock.Server(self.emulator) as server:
            self.url = str(server.url).rstrip("/")
            self._started.set()
            await self._stop.wait()

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the Kubernetes emulator did not start")
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def requests(self) -> list[rendering.Request]:
        return list(self.emulator)

    def kubeconfig(self, path: Path, token: str) -> Path:
        """A kubeconfig pointing at the emulator; the token tells whose requests are whose."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "user", "user": {"token": token}}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "user"}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path


class Cluster:
    """A client of the emulator for the test or benchmark's own requests (its token is not the operator's)."""

    TOKEN = "cluster-admin"

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {self.TOKEN}"}, timeout=10)

    @staticmethod
    def path(resource: kmock.resource, namespace: str, name: str = "", subresource: str = "") -> str:
        base = f"/api/{resource.version}" if not resource.group else f"/apis/{resource.group}/{resource.version}"
        return "/".join(
            part for part in (f"{base}/namespaces/{namespace}/{resource.plural}", name, subresource) if part
        )

    def create(self, resource: kmock.resource, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.path(resource, namespace), json=body)
        response.raise_for_status()
        return response.json()

    def get(self, resource: kmock.resource, namespace: str, name: str) -> dict[str, Any] | None:
        response = self.http.get(self.path(resource, namespace, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def list(self, resource: kmock.resource, namespace: str) -> list[dict[str, Any]]:
        response = self.http.get(self.path(resource, namespace))
        response.raise_for_status()
        return response.json()["items"]

    def patch(
        self, resource: kmock.resource, namespace: str, name: str, body: dict[str, Any], subresource: str = ""
    ) -> dict[str, Any]:
        response = self.http.patch(
            self.path(resource, namespace, name, subresource),
            json=body,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()
        return response.json()

    def watch(
        self, resource: kmock.resource, namespace: str, since: str, read_timeout: float
    ) -> Iterator[dict[str, Any]]:
        """Watch events after resourceVersion `since` (all objects first when empty), until a read times out."""
        params = {"watch": "true", **({"resourceVersion": since} if since else {})}
        timeout = httpx.Timeout(10, read=read_timeout)
        with self.http.stream("GET", self.path(resource, namespace), params=params, timeout=timeout) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def delete(self, resource: kmock.resource, namespace: str, name: str) -> None:
        self.http.delete(self.path(resource, namespace, name)).raise_for_status()

    def close(self) -> None:
        self.http.close()


def ready_condition(state: str) -> dict[str, Any]:
    return {"conditions": [{"type": "Ready", "status": state, "lastTransitionTime": _now()}]}


class KnativeStandIn:
    """Plays Knative Serving's controller for the Services of one namespace: a template whose name is
    new becomes a Revision, made Ready (or left Unknown/False) as `readiness(revision name)` says.

    It watches the Services (as Knative's controller does), so it reacts at once and costs nothing
    while nothing changes; its own client, because the caller's is used from another thread."""

    WATCH_READ_TIMEOUT_S = 0.5  # how often an idle watch looks at the stop flag

    def __init__(self, cluster: Cluster, namespace: str, readiness: Callable[[str], str] = lambda _: "True") -> None:
        self.cluster = Cluster(str(cluster.http.base_url))
        self.namespace, self.readiness = namespace, readiness
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="knative-stand-in")

    def __enter__(self) -> KnativeStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.cluster.close()

    def _run(self) -> None:
        version = ""
        while not self._stop.is_set():
            try:
                for event in self.cluster.watch(SERVICES, self.namespace, version, self.WATCH_READ_TIMEOUT_S):
                    version = event["object"]["metadata"]["resourceVersion"]
                    if event["type"] != "DELETED":
                        self.reconcile(event["object"])
                    if self._stop.is_set():
                        return
            except httpx.ReadTimeout:
                continue  # nothing happened: watch again from the same resourceVersion

    def reconcile(self, service: dict[str, Any]) -> None:
        template = service.get("spec", {}).get("template", {})
        name = template.get("metadata", {}).get("name")
        if not name or self.cluster.get(REVISIONS, self.namespace, name) is not None:
            return
        labels = {
            "serving.knative.dev/service": service["metadata"]["name"],
            **template.get("metadata", {}).get("labels", {}),
        }
        self.cluster.create(
            REVISIONS,
            self.namespace,
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Revision",
                "metadata": {"name": name, "labels": labels},
                "spec": template.get("spec", {}),
            },
        )
        self.cluster.patch(
            REVISIONS, self.namespace, name, {"status": ready_condition(self.readiness(name))}, subresource="status"
        )


def wait_for(check: Callable[[], Any], timeout: float, what: str, period: float = 0.2) -> Any:
    """Poll until `check()` is truthy; its value, or AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(period)
