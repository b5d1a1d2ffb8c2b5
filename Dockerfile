# syntax=docker/dockerfile:1
# One image per requirement set the functions declare (FunctionSpec.requirements), plus the UI:
#   docker build --target serve  -t ghcr.io/time2bet/serve:0.1.0 .
#   (targets: events, serve, scrape, ml, operator, all, mlflow-server, ui; knative/overlays/*/kustomization.yaml pins the tags)
# Each `deps-<target>` stage builds a virtualenv from exactly one requirements file; the runtime
# stages copy that virtualenv and the source, never pip, a compiler or a browser (Selenium talks to a
# remote Selenoid). tests/platform/test_deployment_images.py starts every function with only its
# target's requirement closure importable, reading the stage → requirements mapping from this file.

# python:3.11-slim-bookworm, pinned by its multi-arch index digest (bump tag and digest together).
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS python
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ---- build: the project itself as a wheel (gives the `t2b` command), built once for every target
FROM python AS project
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared/ shared/
COPY functions/ functions/
RUN python -m pip wheel --no-deps --wheel-dir /wheels .

# ---- one virtualenv per requirement set (everything installs from wheels: no compiler needed)
FROM python AS deps-events
COPY requirements/ /src/requirements/
COPY --from=project /wheels /wheels
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r /src/requirements/locks/events.txt \
 && /opt/venv/bin/pip install --no-deps /wheels/*.whl

FROM python AS deps-serve
COPY requirements/ /src/requirements/
COPY --from=project /wheels /wheels
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r /src/requirements/locks/serve.txt \
 && /opt/venv/bin/pip install --no-deps /wheels/*.whl

FROM python AS deps-scrape
COPY requirements/ /src/requirements/
COPY --from=project /wheels /wheels
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r /src/requirements/locks/scrape.txt \
 && /opt/venv/bin/pip install --no-deps /wheels/*.whl

FROM python AS deps-ml
COPY requirements/ /src/requirements/
COPY --from=project /wheels /wheels
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r /src/requirements/locks/ml.txt \
 && /opt/venv/bin/pip install --no-deps /wheels/*.whl

FROM python AS deps-operator
COPY requirements/ /src/requirements/
COPY --from=project /wheels /wheels
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r /src/requirements/locks/operator.txt \
 && /opt/venv/bin/pip install --no-deps /wheels/*.whl

# every runtime set: the Argo workflow steps run any `t2b` command (workflows/common.py)
FROM python AS deps-all
COPY requirements/ /src/requirements/
COPY --from=project /wheels /wheels
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r /src/requirements/locks/all.txt \
 && /opt/venv/bin/pip install --no-deps /wheels/*.whl

FROM python AS deps-mlflow-server
COPY requirements/ /src/requirements/
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r /src/requirements/locks/mlflow-server.txt

FROM python AS deps-ui
COPY requirements/ /src/requirements/
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r /src/requirements/locks/ui.txt

# ---- runtime: non-root, read-only-root friendly (pip byte-compiled the venv; HOME and caches in /tmp)
FROM python AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 t2b \
 && useradd --system --uid 10001 --gid t2b --no-create-home --home-dir /tmp --shell /usr/sbin/nologin t2b
WORKDIR /app
# uvicorn imports every function as functions.<name>.main:app from the working directory
COPY functions/ functions/
EXPOSE 8080
# Kubernetes ignores this (the Knative Services probe /health and /health/ready); `docker run` uses it.
HEALTHCHECK --interval=30s --timeout=3s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
USER 10001:10001

FROM runtime AS events
COPY --from=deps-events /opt/venv /opt/venv

FROM runtime AS serve
COPY --from=deps-serve /opt/venv /opt/venv

FROM runtime AS scrape
COPY --from=deps-scrape /opt/venv /opt/venv

# LightGBM's wheel links the system OpenMP runtime (libgomp.so.1): the only OS package added, for
# the images that hold LightGBM.
FROM runtime AS runtime-openmp
USER 0
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1=12.2.0-14+deb12u1 \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001

FROM runtime-openmp AS ml
COPY --from=deps-ml /opt/venv /opt/venv

FROM runtime-openmp AS operator
COPY --from=deps-operator /opt/venv /opt/venv

FROM runtime-openmp AS all
COPY --from=deps-all /opt/venv /opt/venv

# the tracking server (knative/infra/ds/mlflow.yaml); its own set: MLflow's server pins differ
FROM runtime AS mlflow-server
COPY --from=deps-mlflow-server /opt/venv /opt/venv
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=2)"]
CMD ["mlflow", "server", "--host=0.0.0.0", "--port=5000"]

FROM runtime AS ui
COPY --from=deps-ui /opt/venv /opt/venv
COPY ui/ ui/
CMD ["streamlit", "run", "ui/app.py", "--server.port=8080", "--server.address=0.0.0.0", "--server.headless=true"]
