//! Provisioning through the platform's REST API: products, assets and devices (in batches
//! of up to 1,000, each device's token returned once). Re-running against the same tenant
//! works: existing assets are kept, existing identical products are kept (a different one
//! stops the run before anything is created), and devices that already exist get a new
//! token (`POST /devices/{id}/token`).

use crate::error::SimError;
use crate::plan::{AssetPlan, CityPlan, DevicePlan};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::HashMap;
use wanwu_model::Product;

/// Most devices one `POST /devices:batch` may create.
pub const MAX_BATCH: usize = 1000;

/// A device's MQTT credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Device id (MQTT username).
    pub id: String,
    /// Device token (MQTT password).
    pub token: String,
}

/// A client of the platform's REST API acting with one API token.
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// The answer to a request: status and JSON body (`Null` when empty or not JSON).
struct Answer {
    status: StatusCode,
    body: Json,
}

impl ApiClient {
    /// A client of the platform at `base_url` (e.g. `http://127.0.0.1:8080`). TLS uses
    /// rustls with the `ring` provider (installed for the process unless one already is).
    pub fn new(base_url: &str, token: &str) -> Result<ApiClient, SimError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|source| SimError::Http {
                context: "building the HTTP client".into(),
                source,
            })?;
        Ok(ApiClient {
            http,
            base: format!("{}/api/v1", base_url.trim_end_matches('/')),
            token: token.to_owned(),
        })
    }

    /// Sends a request; a success status or one of `accept` is an answer, anything else
    /// an error carrying the platform's message.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        context: &str,
        accept: &[StatusCode],
    ) -> Result<Answer, SimError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let http_error = |source| SimError::Http {
            context: context.to_owned(),
            source,
        };
        let response = request.send().await.map_err(http_error)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(http_error)?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        if status.is_success() || accept.contains(&status) {
            return Ok(Answer { status, body });
        }
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(SimError::Api {
            context: context.to_owned(),
            status: status.as_u16(),
            message,
        })
    }

    /// The stored definition of product `id`, if there is one.
    async fn stored_product(&self, id: &str) -> Result<Option<Json>, SimError> {
        let context = format!("reading product {id:?}");
        let path = format!("/products/{id}");
        let answer = self
            .call(
                Method::GET,
                &path,
                None::<&()>,
                &context,
                &[StatusCode::NOT_FOUND],
            )
            .await?;
        Ok((answer.status != StatusCode::NOT_FOUND).then_some(answer.body))
    }

    /// Creates the `products` that do not exist yet. Existing ones must be identical: if
    /// one differs, nothing is created and it is left as it is.
    pub async fn ensure_products(&self, products: &[Product]) -> Result<(), SimError> {
        let mut missing = vec![];
        for product in products {
            match self.stored_product(&product.id).await? {
                None => missing.push(product),
                Some(stored) if same_product(&stored, product) => {}
                Some(_) => return Err(SimError::ProductConflict(product.id.clone())),
            }
        }
        for product in missing {
            let context = format!("creating product {:?}", product.id);
            let answer = self
                .call(
                    Method::POST,
                    "/products",
                    Some(product),
                    &context,
                    &[StatusCode::CONFLICT],
                )
                .await?;
            // Created meanwhile by someone else: it must still be the same.
            if answer.status == StatusCode::CONFLICT
                && !self
                    .stored_product(&product.id)
                    .await?
                    .is_some_and(|stored| same_product(&stored, product))
            {
                return Err(SimError::ProductConflict(product.id.clone()));
            }
        }
        Ok(())
    }

    /// Creates `asset` unless one of the same id exists.
    pub async fn ensure_asset(&self, asset: &AssetPlan) -> Result<(), SimError> {
        let context = format!("creating asset {:?}", asset.id);
        self.create("/assets", asset, &context).await?;
        Ok(())
    }

    /// `POST`s `body` to `path` (relative to `/api/v1`), e.g. a rule to `/rules`: true when
    /// created, false when one of that id already exists (409, left as it is).
    pub async fn create(
        &self,
        path: &str,
        body: &impl Serialize,
        context: &str,
    ) -> Result<bool, SimError> {
        let answer = self
            .call(
                Method::POST,
                path,
                Some(body),
                context,
                &[StatusCode::CONFLICT],
            )
            .await?;
        Ok(answer.status != StatusCode::CONFLICT)
    }

    /// Creates `devices` (batches of [`MAX_BATCH`]) and returns their credentials in the
    /// same order. A batch that conflicts with existing devices is redone one by one,
    /// giving existing devices a new token.
    pub async fn create_devices(
        &self,
        devices: &[DevicePlan],
    ) -> Result<Vec<Credentials>, SimError> {
        let mut credentials = Vec::with_capacity(devices.len());
        for batch in devices.chunks(MAX_BATCH) {
            let body = serde_json::json!({ "devices": batch });
            let context = format!("creating {} devices", batch.len());
            let answer = self
                .call(
                    Method::POST,
                    "/devices:batch",
                    Some(&body),
                    &context,
                    &[StatusCode::CONFLICT],
                )
                .await?;
            if answer.status == StatusCode::CONFLICT {
                for device in batch {
                    credentials.push(self.create_or_rotate(device).await?);
                }
                continue;
            }
            let mut tokens = tokens_by_id(&answer.body);
            for device in batch {
                let token = tokens.remove(&device.id).ok_or_else(|| SimError::Api {
                    context: context.clone(),
                    status: answer.status.as_u16(),
                    message: format!("no token for device {:?} in the answer", device.id),
                })?;
                credentials.push(Credentials {
                    id: device.id.clone(),
                    token,
                });
            }
        }
        Ok(credentials)
    }

    async fn create_or_rotate(&self, device: &DevicePlan) -> Result<Credentials, SimError> {
        let context = format!("creating device {:?}", device.id);
        let mut answer = self
            .call(
                Method::POST,
                "/devices",
                Some(device),
                &context,
                &[StatusCode::CONFLICT],
            )
            .await?;
        if answer.status == StatusCode::CONFLICT {
            let context = format!("rotating the token of device {:?}", device.id);
            let path = format!("/devices/{}/token", device.id);
            answer = self
                .call(Method::POST, &path, None::<&()>, &context, &[])
                .await?;
        }
        let token = answer.body["token"].as_str().ok_or_else(|| SimError::Api {
            context,
            status: answer.status.as_u16(),
            message: "the answer carries no token".into(),
        })?;
        Ok(Credentials {
            id: device.id.clone(),
            token: token.to_owned(),
        })
    }

    /// Creates the plan's products, assets and devices; returns the devices' credentials
    /// in plan order.
    pub async fn provision(&self, plan: &CityPlan) -> Result<Vec<Credentials>, SimError> {
        self.ensure_products(&plan.products()).await?;
        for asset in &plan.assets {
            self.ensure_asset(asset).await?;
        }
        self.create_devices(&plan.devices).await
    }
}

/// True when the stored product `existing` (with bookkeeping fields) defines `product`.
fn same_product(existing: &Json, product: &Product) -> bool {
    let Json::Object(map) = existing else {
        return false;
    };
    let definition: serde_json::Map<_, _> = map
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "tenant" | "created_at" | "updated_at"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::from_value::<Product>(Json::Object(definition)).is_ok_and(|p| &p == product)
}

/// Tokens by device id in a batch answer: a list of devices, or an object holding one
/// under `devices` or `items`.
fn tokens_by_id(body: &Json) -> HashMap<String, String> {
    let list = match body {
        Json::Array(list) => Some(list),
        Json::Object(map) => ["devices", "items"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Json::as_array)),
        _ => None,
    };
    list.into_iter()
        .flatten()
        .filter_map(|d| {
            let device = d.get("device").unwrap_or(d);
            Some((
                device["id"].as_str()?.to_owned(),
                d["token"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use serde_json::json;

    #[test]
    fn batch_answers_in_either_shape() {
        let flat = json!([{"id": "a", "token": "ta"}, {"id": "b", "token": "tb"}]);
        let wrapped = json!({"devices": [{"id": "a", "token": "ta"}, {"id": "b", "token": "tb"}]});
        let nested = json!({"items": [{"device": {"id": "a"}, "token": "ta"}, {"device": {"id": "b"}, "token": "tb"}]});
        for body in [flat, wrapped, nested] {
            let tokens = tokens_by_id(&body);
            assert_eq!(tokens.len(), 2, "{body}");
            assert_eq!(tokens["b"], "tb");
        }
        assert!(tokens_by_id(&json!({"error": {}})).is_empty());
    }

    #[test]
    fn stored_products_compare_by_definition() {
        let product = Scenario::StreetLights.product();
        let mut stored = serde_json::to_value(&product).unwrap();
        stored["tenant"] = json!("default");
        stored["created_at"] = json!(1);
        stored["updated_at"] = json!(2);
        assert!(same_product(&stored, &product));
        stored["name"] = json!("Other");
        assert!(!same_product(&stored, &product));
        assert!(!same_product(&json!(null), &product));
    }

    #[tokio::test]
    async fn an_unreachable_platform_is_a_clear_error() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let api = ApiClient::new(&format!("http://127.0.0.1:{port}/"), "t").unwrap();
        let plan = crate::fleet_plan(1, &[Scenario::Fleet], 1, "x-");
        let error = api.provision(&plan).await.unwrap_err();
        assert!(matches!(error, SimError::Http { .. }), "{error}");
        assert!(
            error.to_string().starts_with("reading product \"vehicle\""),
            "{error}"
        );
    }
}
