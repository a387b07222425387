//! `/products`: thing models of the tenant.

use super::common::{ListQuery, PageResponse};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_model::entity::{ProductPatch, ProductRecord};
use wanwu_model::thing::Product;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product, delete_product))
}

/// Lists the tenant's products.
#[utoipa::path(get, path = "/products", tag = "products", params(ListQuery),
    responses((status = 200, body = PageResponse<ProductRecord>), (status = "4XX", body = ErrorBody)))]
async fn list_products(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<PageResponse<ProductRecord>>> {
    let page = state
        .platform
        .registry
        .list_products(&scope, &query.page()?)
        .await?;
    Ok(Json(PageResponse::of(page, |p| p)))
}

/// A product to create: its thing model and, optionally, how long its devices' telemetry is
/// kept.
#[derive(utoipa::ToSchema)]
struct NewProduct {
    #[serde(flatten)]
    definition: Product,
    /// Days (1 to 36500) the telemetry of the product's devices is kept; absent leaves it to
    /// the platform's configuration. Over `[tsdb.product_retention_days]` and
    /// `[tsdb] retention_days`.
    retention_days: Option<u32>,
}

impl<'de> Deserialize<'de> for NewProduct {
    /// The thing model keeps refusing unknown fields; `retention_days` is taken out first.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let retention_days = match fields.remove("retention_days") {
            None | Some(serde_json::Value::Null) => None,
            Some(days) => Some(u32::deserialize(days).map_err(|e| {
                D::Error::custom(format!("retention_days: {e}: expected whole days"))
            })?),
        };
        let definition =
            Product::deserialize(serde_json::Value::Object(fields)).map_err(D::Error::custom)?;
        Ok(Self {
            definition,
            retention_days,
        })
    }
}

/// Creates a product; the definition is validated whole (errors name the field path).
#[utoipa::path(post, path = "/products", tag = "products", request_body = NewProduct,
    responses((status = 201, body = ProductRecord), (status = "4XX", body = ErrorBody)))]
async fn create_product(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(product): JsonBody<NewProduct>,
) -> ApiResult<(StatusCode, Json<ProductRecord>)> {
    let record = state
        .platform
        .registry
        .create_product_with_retention(&scope, product.definition, product.retention_days)
        .await?;
    if record.retention_days.is_some() {
        state.platform.retention.refresh().await?;
    }
    Ok((StatusCode::CREATED, Json(record)))
}

/// Reads a product.
#[utoipa::path(get, path = "/products/{id}", tag = "products", params(("id" = String, Path)),
    responses((status = 200, body = ProductRecord), (status = "4XX", body = ErrorBody)))]
async fn get_product(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProductRecord>> {
    Ok(Json(
        state.platform.registry.get_product(&scope, &id).await?,
    ))
}

/// Changes a product: given parts replace the current ones; the result is validated whole.
#[utoipa::path(patch, path = "/products/{id}", tag = "products", params(("id" = String, Path)),
    request_body = ProductPatch,
    responses((status = 200, body = ProductRecord), (status = "4XX", body = ErrorBody)))]
async fn update_product(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<ProductPatch>,
) -> ApiResult<Json<ProductRecord>> {
    let retention_changes = patch.retention_days.is_some();
    let record = state
        .platform
        .registry
        .update_product(&scope, &id, patch)
        .await?;
    if retention_changes {
        state.platform.retention.refresh().await?;
    }
    Ok(Json(record))
}

/// Deletes a product no device uses.
#[utoipa::path(delete, path = "/products/{id}", tag = "products", params(("id" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_product(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.platform.registry.delete_product(&scope, &id).await?;
    state.platform.retention.refresh().await?;
    Ok(StatusCode::NO_CONTENT)
}
