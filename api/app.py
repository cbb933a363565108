"""The Litestar application: /api/v1, health, metrics and the UI build."""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Server, Tag
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ControllerRouterHandler

import providers.builtin
from api.common import get_context
from api.context import ApiContext, ApiSettings
from api.errors import EXCEPTION_HANDLERS
from api.health import healthz, metrics
from api.openapi_structs import StrictStructSchemaPlugin
from api.query_params import DeclaredQueryParameters
from api.routes import (
    agents,
    analytics,
    api_keys,
    audit_logs,
    auth,
    call_export,
    calls,
    campaign_leads,
    campaigns,
    do_not_call,
    invitations,
    passkey_login,
    passkey_sign_in,
    passkeys,
    password_reset,
    prices,
    recordings,
    sip_trunks,
    sso,
    sso_providers,
    tenant,
    twilio,
    two_factor,
    users,
    web_calls,
    webhooks,
)
from api.routes import (
    providers as provider_routes,
)
from api.ui import ui_handler

__all__ = ["ApiContext", "ApiSettings", "create_app"]

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"
# Request counts and latencies per route template (never per id), exported on /metrics.
REQUEST_METRICS = PrometheusConfig(
    app_name="vocals",
    prefix="vocals_api",
    group_path=True,
    exclude_unhandled_paths=True,
    exclude=["/metrics", "/healthz"],
)
# Request bodies are small JSON documents; a megabyte is far above any legitimate one.
MAX_BODY_BYTES = 1_048_576


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Vocals API",
        version=API_VERSION,
        description="Configure AI voice agents on phone lines, originate and inspect calls.",
        path=API_PREFIX,
        render_plugins=[SwaggerRenderPlugin(path="/docs")],
        servers=[Server(url="/")],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="A session token from /api/v1/auth/login or an API key vk_...",
                )
            }
        ),
        tags=[
            Tag(name=name)
            for name in (
                "auth",
                "tenant",
                "users",
                "api-keys",
                "agents",
                "providers",
                "sip-trunks",
                "twilio",
                "calls",
                "webhooks",
                "web-calls",
                "analytics",
                "prices",
                "audit-logs",
                "health",
            )
        ],
    )


def create_app(context: ApiContext) -> Litestar:
    """The API for one process. The caller owns `context`'s pool and Redis client."""
    providers.builtin.load_all()
    api = Router(
        path=API_PREFIX,
        before_request=DeclaredQueryParameters(),
        route_handlers=[
            auth.router,
            two_factor.router,
            passkeys.router,
            passkey_login.router,
            passkey_sign_in.router,
            password_reset.router,
            invitations.public_router,
            invitations.admin_router,
            sso.router,
            sso_providers.router,
            tenant.router,
            users.router,
            api_keys.router,
            agents.router,
            provider_routes.router,
            sip_trunks.router,
            twilio.router,
            calls.router,
            call_export.router,
            do_not_call.router,
            campaigns.router,
            campaign_leads.router,
            recordings.router,
            webhooks.router,
            analytics.router,
            prices.router,
            audit_logs.router,
            web_calls.router,
        ],
    )
    handlers: list[ControllerRouterHandler] = [api, healthz, metrics]
    dist = context.settings.ui_dist
    if dist is not None and (dist / "index.html").is_file():
        handlers.append(ui_handler(dist))
    return Litestar(
        route_handlers=handlers,
        dependencies={"context": Provide(get_context, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=_openapi(),
        # The process configures logging (structured JSON); Litestar must not replace it.
        logging_config=None,
        state=State({"context": context}),
        request_max_body_size=MAX_BODY_BYTES,
        cors_config=CORSConfig(allow_origins=[context.settings.public_url]),
        middleware=[REQUEST_METRICS.middleware],
        plugins=[StrictStructSchemaPlugin()],
    )
