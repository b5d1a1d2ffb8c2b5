"""Registered model versions cached in object storage, so serving loads a model without MLflow.

A version is immutable, so its booster and predictor config can be copied once and read many times:

    models/<name>/<version>/model.txt       the LightGBM model string
    models/<name>/<version>/predictor.json  {"predictor_config": ..., "run_id", "source", "model_sha256", ...}
    models/<name>/aliases/<alias>.json      the version the alias named when a process last asked the
                                            registry: a hint for the next cold start, never the truth

Written when a version is registered (`shared.ml.registry.log_and_register`) and, for versions
registered before this cache existed, by the first process that loads them from MLflow. Reading
needs numpy and lib_lightgbm only: no mlflow, no lightgbm package (see `shared.serving.booster`).

A copy is used only if it belongs to the very version the registry names: the same run and source
(version numbers alone repeat across registries and after a model is deleted and recreated) and a
model string whose checksum matches, so a torn or foreign copy is a miss, never a wrong model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.storage import ObjectNotFound, ObjectStore

if TYPE_CHECKING:
    from shared.ml.predictor import Predictor

log = logging.getLogger("time2bet.model_cache")

PREFIX = "models"
MODEL_FILE = "model.txt"
CONFIG_FILE = "predictor.json"
FORMAT = 1


@dataclass(frozen=True)
class VersionRef:
    """What the registry says a version is: enough to tell a cached copy of it from any other."""

    name: str
    version: str
    run_id: str = ""
    source: str = ""


def version_prefix(name: str, version: str) -> str:
    return f"{PREFIX}/{quote(name, safe='')}/{quote(str(version), safe='')}"


def alias_hint_key(name: str, alias: str) -> str:
    return f"{PREFIX}/{quote(name, safe='')}/aliases/{quote(alias, safe='')}.json"


def write_alias_hint(store: ObjectStore, alias: str, ref: VersionRef) -> None:
    body = {"name": ref.name, "version": str(ref.version), "run_id": ref.run_id or "", "source": ref.source or ""}
    store.put_bytes(alias_hint_key(ref.name, alias), json.dumps(body).encode(), "application/json")


def read_alias_hint(store: ObjectStore, name: str, alias: str) -> VersionRef | None:
    """The version `alias` named when last resolved, or None (never written, or unreadable)."""
    try:
        body = json.loads(store.get_bytes(alias_hint_key(name, alias)))
        return VersionRef(name, str(body["version"]), str(body["run_id"]), str(body["source"]))
    except (ObjectNotFound, ValueError, KeyError, TypeError):
        return None


def write_version(store: ObjectStore, ref: VersionRef, model_str: str, config: dict[str, Any]) -> None:
    """Store a version's model string, then its config: predictor.json last, as the commit marker."""
    prefix = version_prefix(ref.name, ref.version)
    model = model_str.encode()
    store.put_bytes(f"{prefix}/{MODEL_FILE}", model, "text/plain")
    meta = {
        "format": FORMAT,
        "name": ref.name,
        "version": str(ref.version),
        "run_id": ref.run_id or "",
        "source": ref.source or "",
        "model_sha256": hashlib.sha256(model).hexdigest(),
        "predictor_config": config,
    }
    store.put_bytes(f"{prefix}/{CONFIG_FILE}", json.dumps(meta, indent=2).encode(), "application/json")


def read_version(store: ObjectStore, ref: VersionRef) -> Predictor | None:
    """The cached predictor of `ref`, or None when there is no valid copy of exactly that version."""
    from shared.ml.predictor import Predictor
    from shared.serving.booster import NativeBooster

    prefix = version_prefix(ref.name, ref.version)
    try:
        meta = json.loads(store.get_bytes(f"{prefix}/{CONFIG_FILE}"))
        model = store.get_bytes(f"{prefix}/{MODEL_FILE}")
    except ObjectNotFound:
        return None
    expected = (FORMAT, ref.name, str(ref.version), ref.run_id or "", ref.source or "")
    found = (meta.get("format"), meta.get("name"), meta.get("version"), meta.get("run_id"), meta.get("source"))
    if found != expected:
        log.warning(
            "cached %s/%s is another model (%s, registry says %s): ignoring it", ref.name, ref.version, found, expected
        )
        return None
    if hashlib.sha256(model).hexdigest() != meta.get("model_sha256"):
        log.warning("cached %s/%s: model checksum mismatch, ignoring it", ref.name, ref.version)
        return None
    return Predictor.from_config(NativeBooster(model.decode()), meta["predictor_config"], version=str(ref.version))
