"""The champion's model card: versions, evaluation against the market and Elo, evaluation plots."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response, status

from shared.function_spec import FunctionSpec
from shared.queries.api import error_responses
from shared.queries.model_card import ModelCard, ModelCards, NoChampion, Plot
from shared.services import Services
from shared.serving.aliases import RegistryUnreachable
from shared.web.app import create_function_app
from shared.web.deps import get_services

SPEC = FunctionSpec(
    name="model-card",
    kind="http",
    description="The champion's and challenger's versions, the champion's evaluation beside the market and Elo, "
    "RPS by league and the evaluation plots of its MLflow run.",
    queue="api",
    requirements="ml",
    routes=["/model/card", "/model/card/plots/{plot}"],
)

RETRY_AFTER_S = "30"

router = APIRouter(tags=["model"])


def model_cards(services: Services = Depends(get_services)) -> ModelCards:
    return services.model_cards


def _unavailable(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": RETRY_AFTER_S})


@router.get("/model/card", summary="The champion's model card", responses=error_responses(404, 503))
def get_card(cards: ModelCards = Depends(model_cards)) -> ModelCard:
    try:
        return cards.card()
    except NoChampion as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except RegistryUnreachable as exc:
        raise _unavailable(exc) from None


@router.get(
    "/model/card/plots/{plot}",
    summary="An evaluation plot (PNG) of the champion's run",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **error_responses(404, 422, 503)},
)
def get_plot(plot: Plot, cards: ModelCards = Depends(model_cards)) -> Response:
    try:
        return Response(cards.plot(plot), media_type="image/png")
    except (NoChampion, FileNotFoundError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except RegistryUnreachable as exc:
        raise _unavailable(exc) from None


app = create_function_app(SPEC, [router])
