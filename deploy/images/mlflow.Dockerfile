# MLflow tracking server + registry for Kubernetes (k8s/base/mlflow): pinned MLflow with the
# basic-auth app and the PostgreSQL driver (overlays/cluster). Build from the repository root:
#   docker build -f deploy/images/mlflow.Dockerfile --build-arg BASE_IMAGE=... .
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG MLFLOW_VERSION=3.17.2
RUN python3.11 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir "mlflow[auth]==${MLFLOW_VERSION}" "psycopg2-binary>=2.9,<3"

FROM ${BASE_IMAGE}
ARG GIT_SHA=unknown
COPY --from=build /opt/venv /opt/venv
RUN groupadd --gid 10001 mlflow \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin mlflow
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLOPS_GIT_SHA=$GIT_SHA
USER 10001:10001
WORKDIR /tmp
EXPOSE 5000
ENTRYPOINT ["mlflow"]
CMD ["server", "--host", "0.0.0.0", "--port", "5000"]
