"""The FastAPI application: wiring of state, background work and routes (no work at import time)."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from mlflow.tracking import MlflowClient
from starlette.types import Receive, Scope, Send

from mlops_core.logs import get_logger
from serving import hot_routes
from serving.batching import MicroBatcher
from serving.champion_watch import ChampionWatcher
from serving.draining import CloseConnectionsWhileDraining, Drain
from serving.errors import RequestRejected
from serving.loading import ServedModel
from serving.metrics import ServingMetrics
from serving.request_log import RequestSampler
from serving.routes import health, metrics, models, predict, v2, webhooks
from serving.settings import ServingSettings
from serving.shadow import Shadow
from serving.state import ModelSlot, ServingState

log = get_logger(__name__)


def _state(settings: ServingSettings, client: MlflowClient) -> ServingState:
    served_metrics = ServingMetrics()

    def on_batch(model: ServedModel, rows: int) -> None:
        served_metrics.observe_batch(model.name, model.version, rows)

    slots = {
        name: ModelSlot(
            name,
            MicroBatcher(name, settings.max_batch_size, settings.max_wait_ms / 1000, on_batch),
            shadow=Shadow(name, settings.shadow_sample_rate, settings.shadow_queue_limit, served_metrics)
            if name in settings.shadow_models
            else None,
        )
        for name in settings.models
    }
    sampler = None
    if settings.request_log_dir is not None and settings.request_log_sample_rate > 0:
        sampler = RequestSampler(
            settings.request_log_dir,
            settings.request_log_sample_rate,
            settings.request_log_images,
            served_metrics,
        )
    return ServingState(settings, client, served_metrics, slots, sampler)


async def _rejected(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestRejected)
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json")


class ServingApp(FastAPI):
    """FastAPI, with the prediction routes dispatched ahead of its routing (see serving.hot_routes)."""

    def __init__(self, drain: Drain, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drain = drain
        self.hot: hot_routes.HotRoutes | None = None  # set once the routes are in; None: FastAPI routes all
        self.hot_routes = True  # False: FastAPI routes predictions too (tests compare the two)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.hot.find(scope) if self.hot is not None and self.hot_routes else None
        serving: ServingState | None = getattr(self.state, "serving", None)
        if found is None or serving is None:
            await super().__call__(scope, receive, send)
            return
        await hot_routes.dispatch(found, serving, self.drain, scope, receive, send)


def create_app(settings: ServingSettings, client: MlflowClient) -> FastAPI:
    """An app serving `settings.models`' champions from the registry behind `client`."""
    drain = Drain(settings.drain_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = _state(settings, client)
        watcher = ChampionWatcher(state)
        app.state.serving, app.state.watcher = state, watcher
        for name, slot in state.slots.items():
            state.metrics.ready.labels(name).set(0)
            slot.batcher.start()
            if slot.shadow is not None:
                slot.shadow.start()
        if state.sampler is not None:
            state.sampler.start()
        watcher.start()
        draining_on_sigterm = drain.install()
        # Everything imported so far (MLflow, FastAPI, the runtimes: ~230k objects) lives as long as the
        # process; a full collection walking it all stalls every request for 100+ ms. Freeze it out of
        # the collector's reach (the watcher does the same after each load).
        gc.collect()
        gc.freeze()
        log.info(
            "serving started",
            models=list(state.slots),
            shadowed=settings.shadow_models,
            poll_interval_s=settings.poll_interval_s,
            drain_s=settings.drain_s if draining_on_sigterm else 0,
        )
        yield
        # Uvicorn has stopped accepting connections and waited for in-flight requests by now.
        await watcher.stop()
        for slot in state.slots.values():
            await slot.batcher.stop()
            if slot.shadow is not None:
                await slot.shadow.stop()
        if state.sampler is not None:
            state.sampler.stop()
        log.info("serving stopped")

    app = ServingApp(
        drain,
        title="MLOps model serving",
        summary="Champion versions of the platform's registered models over HTTP.",
        lifespan=lifespan,
    )
    app.state.drain = drain
    app.add_middleware(CloseConnectionsWhileDraining, drain=drain)
    app.add_exception_handler(RequestRejected, _rejected)
    for router in (
        # The prediction routes first: routes are matched in order, on every request.
        predict.router,
        v2.router,
        models.router,
        health.router,
        metrics.router,
        webhooks.router,
    ):
        app.include_router(router)
    # The routers are included without a prefix: their own routes have the app's paths.
    app.hot = hot_routes.HotRoutes([*predict.router.routes, *v2.router.routes])
    return app
