"""Follow each model's `champion` alias: poll the registry (and wake early on an MLflow webhook),
load a moved-to version in the background, and swap it in only once it has loaded and warmed up.
A version that fails keeps the previous one serving; it is retried only after `load_retry_s`.
Models with shadowing on follow their `challenger` alias the same way, into the slot's shadow.
"""

import asyncio
import contextlib
import gc
import time

from mlflow.entities.model_registry import ModelVersion

from mlops_core.logs import get_logger
from mlops_core.naming import CHALLENGER, CHAMPION
from mlops_core.registry import version_for_alias
from serving.errors import ModelLoadError
from serving.loading import ServedModel, load_version
from serving.state import LoadFailure, ModelSlot, ServingState

log = get_logger(__name__)


class ChampionWatcher:
    def __init__(self, state: ServingState) -> None:
        self._state = state
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="champion-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def request_refresh(self) -> None:
        """Check the registry now instead of at the next poll (webhook deliveries call this)."""
        self._wake.set()

    async def _run(self) -> None:
        interval = self._state.settings.poll_interval_s
        while True:
            self._wake.clear()
            await self.refresh_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)

    async def refresh_all(self) -> None:
        slots = self._state.slots.values()
        await asyncio.gather(
            *(self._refresh(slot) for slot in slots),
            *(self._refresh_challenger(slot) for slot in slots if slot.shadow is not None),
        )

    def _retry_later(self, failure: LoadFailure | None, version: str) -> bool:
        return (
            failure is not None
            and failure.version == version
            and time.monotonic() - failure.monotonic_at < self._state.settings.load_retry_s
        )

    async def _refresh_challenger(self, slot: ModelSlot) -> None:
        """Load the `challenger` version into the slot's shadow (none: stop mirroring)."""
        shadow = slot.shadow
        assert shadow is not None
        try:
            challenger = await asyncio.to_thread(version_for_alias, self._state.client, slot.name, CHALLENGER)
        except Exception as exc:
            self._state.metrics.registry_errors.labels(slot.name).inc()
            log.warning("registry look-up failed", model=slot.name, alias=CHALLENGER, error=str(exc))
            return
        shadow.challenger_version = None if challenger is None else str(challenger.version)
        if challenger is None:
            shadow.challenger = None
            return
        loaded = shadow.challenger
        if (loaded is not None and loaded.version == shadow.challenger_version) or self._retry_later(
            slot.challenger_failure, str(challenger.version)
        ):
            return
        served = await self._load_version(slot, challenger, CHALLENGER)
        if isinstance(served, LoadFailure):
            slot.challenger_failure = served
            return
        shadow.challenger, slot.challenger_failure = served, None
        log.info("now shadowing", model=slot.name, challenger=served.version)

    async def _refresh(self, slot: ModelSlot) -> None:
        state = self._state
        try:
            champion = await asyncio.to_thread(version_for_alias, state.client, slot.name, CHAMPION)
        except Exception as exc:  # registry unreachable: keep serving what we have
            state.metrics.registry_errors.labels(slot.name).inc()
            log.warning("registry look-up failed", model=slot.name, error=str(exc))
            return
        if champion is None:
            if slot.champion_version is not None or slot.current is None:
                log.warning(
                    "no champion alias", model=slot.name, serving=slot.current and slot.current.version
                )
            slot.champion_version = None
            return
        slot.champion_version = str(champion.version)
        if slot.current is not None and slot.current.version == slot.champion_version:
            return
        if self._retry_later(slot.failure, slot.champion_version):
            return
        await self._load(slot, champion)

    async def _load_version(
        self, slot: ModelSlot, version: ModelVersion, alias: str
    ) -> ServedModel | LoadFailure:
        state, settings = self._state, self._state.settings
        number = str(version.version)
        log.info(
            f"loading {alias}", model=slot.name, version=number, serving=slot.current and slot.current.version
        )
        try:
            return await asyncio.to_thread(
                load_version,
                version,
                threads=settings.inference_threads,
                max_rows=settings.max_rows,
                batch_rows=settings.max_batch_size,
                download_dir=settings.download_dir,
            )
        except Exception as exc:
            reason = str(exc) if isinstance(exc, ModelLoadError) else f"{type(exc).__name__}: {exc}"
            state.metrics.loads.labels(slot.name, number, "failed").inc()
            log.error(
                f"{alias} failed to load; keeping the served version",
                model=slot.name,
                version=number,
                serving=slot.current and slot.current.version,
                error=reason,
            )
            return LoadFailure(number, reason, time.monotonic())

    async def _load(self, slot: ModelSlot, champion: ModelVersion) -> None:
        state = self._state
        version = str(champion.version)
        served = await self._load_version(slot, champion, CHAMPION)
        if isinstance(served, LoadFailure):
            slot.failure = served
            return
        replaced = slot.current
        slot.current = served  # the swap: requests decoded from here on use the new version
        slot.failure = None
        state.metrics.loads.labels(slot.name, version, "loaded").inc()
        state.metrics.mark_served(
            slot.name,
            (served.version, served.run_id or ""),
            None if replaced is None else (replaced.version, replaced.run_id or ""),
        )
        gc.freeze()  # the loaded version's objects out of the full collections' way (see app.py)
        log.info("now serving", model=slot.name, version=version, replaced=replaced and replaced.version)
