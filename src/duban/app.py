"""The FastAPI application: ``create_app(settings)`` builds it with no import-time effects."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from duban import __version__
from duban.accounts import api as accounts_api
from duban.accounts import pages as accounts_pages
from duban.adapters.photostore import photo_store_for
from duban.api import health as health_api
from duban.api.edge import refuse_control_text
from duban.api.errors import document_errors, install_error_handlers
from duban.api.limits import use_policy_limits
from duban.api.middleware import install_middleware
from duban.cases import api as cases_api
from duban.cases import dashboard_pages, map_pages, public_pages, workbench_pages
from duban.cases import pages as case_pages
from duban.config import Settings, signing_key
from duban.evaluation import api as evaluation_api
from duban.evaluation import pages as evaluation_pages
from duban.evidence import api as evidence_api
from duban.exchange import pages as exchange_pages
from duban.handover import api as handover_api
from duban.handover import pages as handover_pages
from duban.jobs.worker import Worker, worker_for
from duban.kernel.context import Clock, SystemClock
from duban.kernel.db.session import (
    make_engine,
    make_session_factory,
    start_background_checkpoints,
    stop_background_checkpoints,
)
from duban.ledgers import api as ledgers_api
from duban.ledgers import pages as ledgers_pages
from duban.notify import api as notify_api
from duban.notify import pages as notify_pages
from duban.open311 import api as open311_api
from duban.open311 import pages as open311_pages
from duban.photochecks import api as photochecks_api
from duban.places import api as places_api
from duban.places import pages as places_pages
from duban.publicview import pages as publicview_pages
from duban.reference import api as reference_api
from duban.reference import pages as reference_pages
from duban.supervision import api as supervision_api
from duban.supervision import campaign_api, campaign_pages
from duban.supervision import editor_pages as supervision_editor_pages
from duban.supervision import joint_api as supervision_joint_api
from duban.supervision import joint_pages as supervision_joint_pages
from duban.supervision import pages as supervision_pages
from duban.supervision import workbench_pages as supervision_workbench_pages
from duban.web import STATIC_DIR as WEB_STATIC_DIR
from duban.web import admin as admin_pages
from duban.web import install_web

_log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

#: Every capability's web pages, in the order their routes are matched.
PAGES: Final = (
    publicview_pages.router,  # /public/feed.atom before the cases' routes
    public_pages.router,
    case_pages.router,
    workbench_pages.router,
    map_pages.router,
    dashboard_pages.router,
    admin_pages.router,
    accounts_pages.router,
    reference_pages.router,
    open311_pages.router,
    places_pages.router,
    ledgers_pages.router,
    supervision_editor_pages.router,  # /supervision/new before /supervision/{id}
    handover_pages.router,
    handover_pages.admin_router,
    exchange_pages.router,
    supervision_pages.router,
    evaluation_pages.router,
    supervision_joint_pages.router,
    campaign_pages.router,
    notify_pages.router,
    supervision_workbench_pages.router,
)

DESCRIPTION = """
督办 Duban — city-management supervision (数字化城管).

Sign in with `POST /api/v1/auth/token` (form fields `username`, `password`), then send
`Authorization: Bearer <access_token>`. Every error is JSON:
`{"error": {"code": "...", "message": "...", "detail": {...}}}`.
Times are ISO 8601 with their zone (shown in Asia/Shanghai, stored in UTC).
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Sync routes run in anyio's thread pool (40 threads by default). Requests here are
    # short and mostly CPU in Python, so threads beyond a few per process only fight
    # over the interpreter lock, also while one of them holds a database lock (measured
    # in bench/intake.py: about 15 % more cases/s and a lower p99 with 4 than with 40).
    anyio.to_thread.current_default_thread_limiter().total_tokens = (
        app.state.settings.worker_threads
    )
    start_background_checkpoints(app.state.engine)
    await anyio.to_thread.run_sync(_warm_caches, app)
    # Everything alive now (modules, mappers, templates, the policy, the map index) lives
    # as long as the process: take it out of the cyclic GC's view. Otherwise every full
    # collection walks it, a pause of ~75 ms that made /work's p95 four times its median
    # (bench/web.py: p95 100 ms → 26 ms). Garbage is collected first, not frozen.
    gc.collect()
    gc.freeze()
    worker = _start_worker(app) if app.state.settings.run_worker else None
    yield
    if worker is not None:  # let it finish the job it is on before the engine goes
        worker.stop()
        if worker.thread is not None:
            await anyio.to_thread.run_sync(worker.thread.join, 30.0)
    await anyio.to_thread.run_sync(stop_background_checkpoints, app.state.engine)


def _start_worker(app: FastAPI) -> Worker:
    """The in-process worker (``duban serve``): the sweep, notifications and the bulletin
    run by themselves, without cron, in a background thread of this process."""
    worker = worker_for(
        app.state.settings,
        app.state.session_factory,
        clock=app.state.clock,
        secret=app.state.secret_key,
        store=app.state.photo_store,
    )
    worker.start_thread()
    return worker


def _warm_caches(app: FastAPI) -> None:
    """Load the policy and the map index before the first request (best effort: a
    database not ready yet only means the first request loads them)."""
    from duban.places.index import places_index
    from duban.reference.policy import load_policy

    try:
        with app.state.session_factory() as session:
            use_policy_limits(app, load_policy(session).limits)
            places_index(session)
    except Exception:
        _log.warning("could not load the policy and the map at startup", exc_info=True)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the application for ``settings`` (the environment's if not given)."""
    settings = settings or Settings()
    # The audit key, checked before anything is served (a malformed DUBAN_AUDIT_KEY
    # refuses to start); unset, the first start creates <var_dir>/audit.key.
    from duban.cases.auditkey import audit_keys
    from duban.web.tiles import tile_layers

    audit_keys()
    tile_layers(settings)  # a bad DUBAN_MAP_LAYERS refuses to start, naming the mistake
    engine = engine or make_engine(settings.database_url, background_checkpoints=True)
    factory = make_session_factory(engine)
    app = FastAPI(
        lifespan=_lifespan,
        title="Duban 督办 API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        # No NUL or other control character in any query string or JSON body (422).
        dependencies=[Depends(refuse_control_text)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.clock = clock or SystemClock()
    app.state.photo_store = photo_store_for(settings)
    app.state.secret_key = signing_key(settings)
    install_error_handlers(app)
    # places before cases: /cases/nearby must not be taken for /cases/{case_id}.
    for router in (
        cases_api.intake_router,
        accounts_api.router,
        places_api.router,
        cases_api.router,
        evidence_api.router,
        evaluation_api.router,
        photochecks_api.router,
        reference_api.router,
        accounts_api.admin_router,
        reference_api.admin_router,
        ledgers_api.router,
        handover_api.router,
        supervision_api.router,
        supervision_joint_api.router,
        campaign_api.router,
        notify_api.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(open311_api.router)  # /open311/v2, its own error format
    _document_models(app)
    _install_docs(app)

    app.include_router(health_api.router)  # /healthz (liveness), /readyz (the database)
    install_middleware(app)
    install_web(app, PAGES)  # the pages: / is the web front door

    return app


def _document_models(app: FastAPI) -> None:
    """Add the schemas of models that routes read themselves to the OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in cases_api.DOCUMENTED_MODELS:
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in found.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components[model.__name__] = found
            document_errors(schema, api_prefix=API_PREFIX)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _install_docs(app: FastAPI) -> None:
    """Swagger UI (swagger-ui-dist, vendored under the web's static files; it reads the
    OpenAPI 3.1 document FastAPI writes) served by Duban itself: nothing loads from a CDN."""
    assets = WEB_STATIC_DIR / "vendor" / "swagger-ui"
    app.mount(f"{API_PREFIX}/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="Duban 督办 API",
            swagger_js_url=f"{API_PREFIX}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{API_PREFIX}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{API_PREFIX}/docs-assets/favicon-32x32.png",
            # Off: the validator badge would send the spec's URL to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
