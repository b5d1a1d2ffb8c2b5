"""Serving without mlflow on the cold path: the alias over REST (or the local store), the version
from its object-store copy, the booster through lib_lightgbm, and the same probabilities as MLflow's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from shared.config import get_settings
from shared.db import migrate
from shared.db.session import get_engine
from shared.ingest.football_data import discover, import_file
from shared.ml.data import read_stored_table
from shared.ml.pipeline import run_ml_demo
from shared.ml.registry import load_predictor
from shared.serving import aliases
from shared.serving.champion import ChampionModel, ModelUnavailable
from shared.serving.model_cache import (
    CONFIG_FILE,
    MODEL_FILE,
    VersionRef,
    read_alias_hint,
    read_version,
    version_prefix,
    write_version,
)
from shared.storage import get_store
from tests.services import REPO, free_port

HEAVY = ("mlflow", "lightgbm", "sklearn", "pandas", "scipy")


def train_champion() -> str:
    migrate.upgrade()
    engine = get_engine()
    for path in discover([REPO / "data" / "demo" / "football-data"]):
        assert import_file(engine, path).ok
    run_ml_demo(engine, get_store())
    return get_settings().model_name


def feature_rows(names: list[str]) -> list[dict[str, float]]:
    """Real feature rows, priced and unpriced (the base margin takes both branches)."""
    priced = read_stored_table(get_store())[names].dropna().head(50)
    assert len(priced) == 50
    unpriced = priced.copy()
    unpriced[[c for c in names if c.startswith("market_")]] = np.nan
    return [*priced.to_dict("records"), *unpriced.to_dict("records")]


def drop_copy(name: str, version: str) -> None:
    store = get_store()
    for file in (CONFIG_FILE, MODEL_FILE):
        Path(store.location(f"{version_prefix(name, version)}/{file}")).unlink(missing_ok=True)


def cold_process(env: dict[str, str]) -> dict:
    """A fresh interpreter loads the champion as the predict function's first request does."""
    code = (
        "import json, sys\n"
        "from shared.services import Services\n"
        "model = Services.from_environment().champion.current()\n"
        f"print(json.dumps({{'version': model.version, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.mlflow
@pytest.mark.slow
def test_rest_alias_and_cached_version_serve_what_mlflow_serves(configure, mlflow_server: str) -> None:
    configure(MLFLOW_TRACKING_URI=mlflow_server, T2B_MODEL_NAME=f"outcome-{uuid.uuid4().hex[:8]}")
    name = train_champion()
    store = get_store()

    # the alias over REST is the version MlflowClient names, with its run and source
    expected = MlflowClient(mlflow_server).get_model_version_by_alias(name, "champion")
    ref = aliases.resolve(mlflow_server, name, "champion")
    assert ref == VersionRef(name, str(expected.version), expected.run_id, expected.source)
    assert ref.run_id and ref.source
    with pytest.raises(aliases.AliasUnresolved):
        aliases.resolve(mlflow_server, name, "no-such-alias")
    with pytest.raises(aliases.AliasUnresolved):
        aliases.resolve(mlflow_server, f"missing-{uuid.uuid4().hex[:8]}", "champion")
    with pytest.raises(aliases.RegistryUnreachable):
        aliases.resolve(f"http://127.0.0.1:{free_port()}", name, "champion")
    with pytest.raises(ModelUnavailable, match="unreachable"):
        ChampionModel(f"http://127.0.0.1:{free_port()}", name, store=store).current()

    # registering the version copied it: the copy predicts exactly what MLflow's artifact predicts
    from_mlflow = load_predictor(name, ref.version, mlflow_server)
    rows = feature_rows(from_mlflow.feature_names)
    cached = read_version(store, ref)
    assert cached is not None and cached.version == ref.version
    assert cached.config() == from_mlflow.config()
    np.testing.assert_array_equal(cached.predict_proba(rows), from_mlflow.predict_proba(rows))

    # a version without a copy (registered before the cache) is loaded through MLflow and copied
    drop_copy(name, ref.version)
    assert read_version(store, ref) is None
    lazily = ChampionModel(mlflow_server, name, store=store).current()
    np.testing.assert_array_equal(lazily.predictor.predict_proba(rows), from_mlflow.predict_proba(rows))
    copied = read_version(store, ref)
    assert copied is not None
    np.testing.assert_array_equal(copied.predict_proba(rows), from_mlflow.predict_proba(rows))

    # a copy of another model under the same name and number (another registry, a recreated
    # model) or a torn one is never served
    model_str = from_mlflow.booster.model_to_string()
    write_version(store, VersionRef(name, ref.version, "another-run", ref.source), model_str, from_mlflow.config())
    assert read_version(store, ref) is None
    write_version(store, ref, model_str, from_mlflow.config())
    assert read_version(store, ref) is not None
    torn = model_str.replace("Tree=0", "Tree=00").encode()
    store.put_bytes(f"{version_prefix(name, ref.version)}/{MODEL_FILE}", torn)
    assert read_version(store, ref) is None
    repaired = ChampionModel(mlflow_server, name, store=store).current()  # through MLflow, and copied again
    np.testing.assert_array_equal(repaired.predictor.predict_proba(rows), from_mlflow.predict_proba(rows))
    assert read_version(store, ref) is not None

    # the cold path of a fresh process: REST and the copy, none of mlflow, lightgbm, sklearn, pandas, scipy
    assert cold_process(dict(os.environ)) == {"version": ref.version, "heavy": []}


@pytest.mark.slow
def test_local_store_alias_and_pinned_version_through_mlflow_client(configure) -> None:
    """The embedded defaults (a local store, no tracking server): MLflow's public client answers, in this
    process (mlflow imported) or in a child interpreter of one that has not imported it."""
    configure(T2B_MODEL_NAME=f"outcome-{uuid.uuid4().hex[:8]}")
    name = train_champion()
    uri = get_settings().resolved_mlflow_tracking_uri
    assert uri.startswith("sqlite:///")

    expected = MlflowClient(uri, uri).get_model_version_by_alias(name, "champion")
    ref = aliases.resolve(uri, name, "champion")
    assert ref == VersionRef(name, str(expected.version), expected.run_id, expected.source)
    assert aliases.pinned(uri, name, ref.version) == ref
    with pytest.raises(aliases.AliasUnresolved):
        aliases.resolve(uri, name, "no-such-alias")
    with pytest.raises(aliases.AliasUnresolved):
        aliases.pinned(uri, name, "999")

    # A process without mlflow (a serving one) asks a child interpreter the same question, and asks
    # again only once the store's files changed: here when the alias moves to a new version.
    extra = MlflowClient(uri, uri).create_model_version(name, expected.source, expected.run_id).version
    code = f"""
import json, subprocess, sys
from shared.serving import aliases
children = []
ask = aliases._ask_child
aliases._ask_child = lambda *question: children.append(question) or ask(*question)
answers = [aliases.resolve({uri!r}, {name!r}, "champion").version for _ in range(2)]
try:
    aliases.resolve({uri!r}, {name!r}, "no-such-alias")
except aliases.AliasUnresolved:
    answers.append("missing")
client = "from mlflow import MlflowClient; client = MlflowClient({uri!r}, {uri!r})"
move = "client.set_registered_model_alias({name!r}, 'champion', '{extra}')"
subprocess.run([sys.executable, "-c", client + "; " + move], check=True)
answers.append(aliases.resolve({uri!r}, {name!r}, "champion").version)
print(json.dumps({{"answers": answers, "children": len(children), "mlflow": "mlflow" in sys.modules}}))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "answers": [ref.version, ref.version, "missing", str(extra)],
        "children": 3,  # champion once, the missing alias once, champion again after the move
        "mlflow": False,
    }

    # The next process (a cold start) finds that answer beside the store, which has not changed since:
    # no child interpreter, no mlflow import.
    next_start = f"""
import json, sys
from shared.serving import aliases
children = []
aliases._ask_child = lambda *question: children.append(question)
answer = aliases.resolve({uri!r}, {name!r}, "champion").version
print(json.dumps({{"answer": answer, "children": len(children), "mlflow": "mlflow" in sys.modules}}))
"""
    again = subprocess.run([sys.executable, "-c", next_start], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {"answer": str(extra), "children": 0, "mlflow": False}


def wait_until_serving(model: ChampionModel, version: str, timeout_s: float = 60) -> None:
    """On the embedded store a fresh ChampionModel serves the alias hint first and asks the registry in
    the background (importing mlflow takes seconds): wait for the registry's answer."""
    deadline = time.monotonic() + timeout_s
    while model.current().version != version:
        assert time.monotonic() < deadline, f"version {version} was not picked up from the registry"
        time.sleep(0.1)


@pytest.mark.slow
def test_embedded_store_cold_start_serves_the_alias_hint_then_asks_the_registry(configure) -> None:
    """Without a tracking server, resolving the alias means importing mlflow: a fresh process first
    serves the version the alias named last time (its hint), and swaps once the registry answers."""
    configure(T2B_MODEL_NAME=f"outcome-{uuid.uuid4().hex[:8]}")
    name = train_champion()
    uri, store = get_settings().resolved_mlflow_tracking_uri, get_store()
    assert read_alias_hint(store, name, "champion") == aliases.resolve(uri, name, "champion")  # the promotion's
    first = ChampionModel(uri, name, store=store).current()

    client = MlflowClient(uri, uri)
    previous = client.get_model_version(name, first.version)
    second = client.create_model_version(name, previous.source, previous.run_id)
    client.set_registered_model_alias(name, "champion", second.version)

    fresh = ChampionModel(uri, name, store=store, refresh_interval_s=0)
    assert fresh.current().version == first.version  # the hint, before the registry was asked
    wait_until_serving(fresh, str(second.version))
    assert read_alias_hint(store, name, "champion").version == str(second.version)


@pytest.mark.slow
def test_model_version_pins_the_process_and_readiness_says_why_it_cannot_load(configure) -> None:
    """MODEL_VERSION: exactly that version, the alias moving does not swap it; a missing one fails readiness."""
    from fastapi.testclient import TestClient

    configure(T2B_MODEL_NAME=f"outcome-{uuid.uuid4().hex[:8]}", MODEL_REFRESH_INTERVAL="0")
    name = train_champion()
    uri = get_settings().resolved_mlflow_tracking_uri
    client = MlflowClient(uri, uri)
    first = client.get_model_version_by_alias(name, "champion")
    second = client.create_model_version(name, first.source, first.run_id)
    client.set_registered_model_alias(name, "champion", second.version)

    pinned = ChampionModel(uri, name, store=get_store(), refresh_interval_s=0, pinned_version=str(first.version))
    following = ChampionModel(uri, name, store=get_store(), refresh_interval_s=0)
    assert pinned.current().version == str(first.version)
    wait_until_serving(following, str(second.version))  # after the promotion's hint, the registry's answer
    client.set_registered_model_alias(name, "champion", first.version)
    for _ in range(3):  # a following process would swap in the background here; a pinned one never looks
        assert pinned.current().version == str(first.version)

    from functions.predict.main import app

    configure(T2B_MODEL_NAME=name, MODEL_VERSION=str(first.version))
    with TestClient(app) as http:
        answer = http.get("/health/ready")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "model_version": str(first.version)}

    configure(T2B_MODEL_NAME=name, MODEL_VERSION="999")
    with TestClient(app) as http:
        answer = http.get("/health/ready")
    assert answer.status_code == 503
    reason = f"no version 999 of {name!r} in MLflow (RESOURCE_DOES_NOT_EXIST)"
    assert answer.json() == {"status": "not ready", "reason": reason}

    del os.environ["MODEL_VERSION"]  # unset: follows the alias, ready at once as before
    configure()
    with TestClient(app) as http:
        assert http.get("/health/ready").json() == {"status": "ok"}
