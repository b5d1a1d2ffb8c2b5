"""Steps are retried on exit 75 only, so a command must exit 75 when a backing service is down, whichever
client wrapped the failure. MLflow here is a closed port on loopback (no retries in its client)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from mlflow.exceptions import MlflowException

from shared.cli.app import run as t2b
from shared.cli.errors import ExitCode, as_command_error, outage_behind
from shared.ml.registry import RegistryError
from tests.services import free_port


def mlflow_refused() -> MlflowException:
    """What MLflow's REST client raises for a refused connection: an MlflowException raised while handling it."""
    try:
        try:
            raise requests.exceptions.ConnectionError("connection refused")
        except requests.exceptions.ConnectionError as error:
            raise MlflowException(f"API request failed with exception {error}")  # noqa: B904 (as MLflow does)
    except MlflowException as wrapped:
        return wrapped


def test_an_outage_anywhere_in_the_chain_is_temporary() -> None:
    refused = mlflow_refused()
    try:
        raise RegistryError("model 'm' has no version '1'") from refused
    except RegistryError as registry_error:
        wrapped_again = registry_error
    for error in (refused, wrapped_again):
        assert outage_behind(error) is not None and as_command_error(error).code == ExitCode.TEMPORARY
    assert outage_behind(RegistryError("model 'm' has no version '7'")) is None


@pytest.mark.parametrize("command", [["model", "gate", "1", "--features", "features.parquet"], ["model", "list"]])
def test_registry_commands_exit_75_when_mlflow_is_down(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T2B_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    assert t2b(command) == ExitCode.TEMPORARY
