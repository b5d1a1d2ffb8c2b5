"""What a function declares about itself, once: the Knative manifests and the local runtime read it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Resources(BaseModel):
    cpu: str = "250m"
    memory: str = "256Mi"
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"


class Scaling(BaseModel):
    min_scale: int = Field(default=0, ge=0)  # scale to zero
    max_scale: int = Field(default=10, ge=1)
    target_concurrency: int = Field(default=50, ge=1)


class FunctionSpec(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")  # the Knative Service name
    kind: Literal["http", "event"]
    description: str
    queue: Literal["api", "ml"]
    routes: list[str] = Field(default_factory=list, description="HTTP paths, for kind http")
    event_types: list[str] = Field(default_factory=list, description="CloudEvent types, for kind event")
    requirements: str = Field(default="base", description="requirements/<set>.txt its image installs")
    resources: Resources = Field(default_factory=Resources)
    scaling: Scaling = Field(default_factory=Scaling)

    @property
    def module(self) -> str:
        return f"functions.{self.name.replace('-', '_')}.main"
