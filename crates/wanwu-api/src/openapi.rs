//! The OpenAPI document, built from the same annotations that route the requests, so every
//! route is documented by construction.

use crate::extract::TENANT_HEADER;
use crate::routes::{self, API_BASE};
use crate::state::AppState;
use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wanwu",
        description = "The wanwu AIoT platform. Authenticate with `Authorization: Bearer <token>`. \
            Every call acts in the token's tenant; the platform admin token may act for another \
            tenant by naming it in the `X-Wanwu-Tenant` header. Errors are \
            `{\"error\": {\"code\", \"message\", \"details\"}}`."
    ),
    security(("bearer" = [])),
    tags(
        (name = "tenants", description = "Tenants (platform admin)"),
        (name = "tokens", description = "API tokens (tenant admins)"),
        (name = "products", description = "Thing models"),
        (name = "devices", description = "Devices and their credentials"),
        (name = "assets", description = "The tree of places and things"),
        (name = "alarms", description = "Alarms: list, acknowledge, clear"),
        (name = "rules", description = "Rules: trigger, condition, actions; counters and outcomes; dry runs"),
        (name = "scenes", description = "Scenes: named lists of actions run on demand"),
        (name = "telemetry", description = "Readings of devices: ingest, latest values, history, aggregation, export"),
        (name = "twin", description = "Device twins: reported and desired state"),
        (name = "commands", description = "Commands to devices: send and wait, queue, lifecycle"),
        (name = "events", description = "Device events of the thing model"),
        (name = "live", description = "Live data over WebSocket: telemetry, events, presence, twin, alarms, commands"),
        (name = "system", description = "Health and metrics")
    )
)]
struct ApiDoc;

/// The router of every documented route (without state) and its OpenAPI document.
pub fn router_with_document() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(API_BASE, routes::api_routes())
        .merge(routes::root_routes())
        .split_for_parts();
    document_auth(&mut openapi);
    (router, openapi)
}

/// The OpenAPI document of the platform.
pub fn document() -> utoipa::openapi::OpenApi {
    router_with_document().1
}

/// Adds the bearer scheme and the tenant header to every path under the API base.
fn document_auth(openapi: &mut utoipa::openapi::OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    components.add_security_scheme(
        "device_token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("The device's own token (device ingest)"))
                .build(),
        ),
    );
    let tenant_header = ParameterBuilder::new()
        .name("X-Wanwu-Tenant")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Tenant to act in; only the platform admin may name a tenant other than the token's own.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build();
    debug_assert_eq!(TENANT_HEADER, "x-wanwu-tenant");
    for (path, item) in openapi.paths.paths.iter_mut() {
        if path.starts_with(API_BASE) {
            item.parameters
                .get_or_insert_with(Vec::new)
                .push(tenant_header.clone().into());
        }
    }
}
