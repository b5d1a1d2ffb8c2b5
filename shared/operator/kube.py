"""The operator's own Kubernetes client: the few reads and writes its handlers make.

kopf gives handlers no public API client, so this one is built from the same credentials kopf logs
in with (`kopf.login_with_service_account` in a pod, else `kopf.login_with_kubeconfig`). Every
request it can make is listed in knative/base/operator/rbac.yaml.
"""

from __future__ import annotations

from typing import Any

import httpx
import kopf

from shared.operator.plan import Readiness

GROUP_VERSION = "time2bet.io/v1alpha1"
PLURAL = "modelbindings"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
TIMEOUT_S = 10.0


class KubeError(RuntimeError):
    """The API server did not do what was asked; retrying may help."""


def connection_info(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.LoginError("neither a service account nor a kubeconfig to log in with")
    return info


def revision_readiness(revision: dict[str, Any] | None) -> Readiness:
    if revision is None:
        return Readiness.MISSING
    ready = next((c for c in revision.get("status", {}).get("conditions", []) if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") not in ("True", "False"):
        return Readiness.PENDING
    return Readiness.READY if ready["status"] == "True" else Readiness.NOT_READY


class Kube:
    def __init__(self, info: kopf.ConnectionInfo) -> None:
        verify: Any = True
        if info.server.startswith("https"):
            verify = False if info.insecure else info.as_ssl_context()
        self._client = httpx.AsyncClient(
            base_url=info.server, headers=info.as_http_headers(), verify=verify, timeout=TIMEOUT_S
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TransportError:  # a pooled connection the server closed: every call here is idempotent
            try:
                response = await self._client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise KubeError(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise KubeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json()

    @staticmethod
    def _binding_path(namespace: str, name: str) -> str:
        return f"/apis/{GROUP_VERSION}/namespaces/{namespace}/{PLURAL}/{name}"

    @staticmethod
    def _serving_path(namespace: str, plural: str, name: str) -> str:
        return f"/apis/serving.knative.dev/v1/namespaces/{namespace}/{plural}/{name}"

    async def get_binding(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._request("GET", self._binding_path(namespace, name))

    async def patch_binding_status(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        await self._request(
            "PATCH", self._binding_path(namespace, name) + "/status", json={"status": patch}, headers=MERGE_PATCH
        )

    async def get_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._request("GET", self._serving_path(namespace, "services", name))

    async def patch_service(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        await self._request("PATCH", self._serving_path(namespace, "services", name), json=patch, headers=MERGE_PATCH)

    async def revision_readiness(self, namespace: str, name: str) -> Readiness:
        return revision_readiness(await self._request("GET", self._serving_path(namespace, "revisions", name)))
