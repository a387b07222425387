//! A socket's subscriptions and how a message is matched against them.

use super::placement::Placement;
use super::protocol::{FrameError, KindSet, LiveKind, SubscribeRequest};
use std::collections::HashSet;
use std::sync::Arc;

/// Longest subscription id.
pub const MAX_ID_LEN: usize = 64;
/// Most devices, products and assets one subscription names, together.
pub const MAX_SELECTORS: usize = 1000;

/// One subscription of a socket.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// Id chosen by the client.
    pub id: Arc<str>,
    /// The kinds of data it wants.
    pub kinds: KindSet,
    all: bool,
    devices: HashSet<String>,
    products: HashSet<String>,
    assets: HashSet<String>,
}

impl Subscription {
    /// Checks the shape of a request (id, selectors, kinds); whether the named devices,
    /// products and assets exist is checked by the caller.
    pub fn from_request(request: SubscribeRequest) -> Result<Self, FrameError> {
        if request.id.is_empty() || request.id.len() > MAX_ID_LEN {
            return Err(FrameError::new(
                "invalid_frame",
                format!("a subscription id has 1 to {MAX_ID_LEN} characters"),
            ));
        }
        let named = request.devices.len() + request.products.len() + request.assets.len();
        if named == 0 && !request.all {
            return Err(FrameError::new(
                "invalid_frame",
                "name devices, products or assets to subscribe to, or set \"all\": true",
            ));
        }
        if named > MAX_SELECTORS {
            return Err(FrameError::new(
                "invalid_frame",
                format!(
                    "a subscription names at most {MAX_SELECTORS} devices, products and assets"
                ),
            ));
        }
        let kinds = match request.kinds {
            None => KindSet::all(),
            Some(kinds) => kinds.into_iter().collect(),
        };
        if kinds.is_empty() {
            return Err(FrameError::new(
                "invalid_frame",
                "\"kinds\" names no kind; leave it out for every kind",
            ));
        }
        Ok(Subscription {
            id: request.id.into(),
            kinds,
            all: request.all,
            devices: request.devices.into_iter().collect(),
            products: request.products.into_iter().collect(),
            assets: request.assets.into_iter().collect(),
        })
    }

    /// The devices it names.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.devices.iter().map(String::as_str)
    }

    /// The products it names.
    pub fn products(&self) -> impl Iterator<Item = &str> {
        self.products.iter().map(String::as_str)
    }

    /// The assets it names.
    pub fn assets(&self) -> impl Iterator<Item = &str> {
        self.assets.iter().map(String::as_str)
    }

    /// Whether matching `kind` of `device` needs the device's placement (its product when
    /// that is not known, or its assets).
    pub fn needs_placement(&self, kind: LiveKind, device: &str, product_known: bool) -> bool {
        self.kinds.contains(kind)
            && !self.all
            && !self.devices.contains(device)
            && (!self.assets.is_empty() || (!product_known && !self.products.is_empty()))
    }

    /// Whether a message of `kind` about `device` of `product`, placed at `placement` (when
    /// known), is wanted.
    pub fn matches(
        &self,
        kind: LiveKind,
        device: &str,
        product: Option<&str>,
        placement: Option<&Placement>,
    ) -> bool {
        if !self.kinds.contains(kind) {
            return false;
        }
        if self.all || self.devices.contains(device) {
            return true;
        }
        let product = product.or(placement.map(|p| p.product.as_str()));
        if product.is_some_and(|p| self.products.contains(p)) {
            return true;
        }
        placement.is_some_and(|p| p.assets.iter().any(|a| self.assets.contains(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subscription(request: serde_json::Value) -> Result<Subscription, FrameError> {
        Subscription::from_request(serde_json::from_value(request).unwrap())
    }

    fn placement(product: &str, assets: &[&str]) -> Placement {
        Placement {
            product: product.into(),
            assets: assets.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn matches_by_device_product_asset_subtree_and_kind() {
        let s = subscription(json!({"id": "s", "devices": ["d1"], "products": ["aq"],
            "assets": ["city"], "kinds": ["telemetry"]}))
        .unwrap();
        let t = LiveKind::Telemetry;
        assert!(s.matches(t, "d1", None, None));
        assert!(
            !s.matches(LiveKind::Twin, "d1", None, None),
            "kind not wanted"
        );
        assert!(s.matches(t, "d2", Some("aq"), None));
        assert!(s.matches(t, "d3", None, Some(&placement("aq", &[]))));
        let in_city = placement("lamp", &["street", "district", "city"]);
        assert!(s.matches(t, "d4", Some("lamp"), Some(&in_city)));
        let elsewhere = placement("lamp", &["street", "town"]);
        assert!(!s.matches(t, "d5", Some("lamp"), Some(&elsewhere)));
        assert!(!s.matches(t, "d6", Some("lamp"), None));
    }

    #[test]
    fn placement_is_needed_only_for_assets_or_unknown_products() {
        let by_product = subscription(json!({"id": "s", "products": ["aq"]})).unwrap();
        assert!(!by_product.needs_placement(LiveKind::Telemetry, "d1", true));
        assert!(by_product.needs_placement(LiveKind::Event, "d1", false));
        let by_asset =
            subscription(json!({"id": "s", "assets": ["a"], "devices": ["d1"]})).unwrap();
        assert!(by_asset.needs_placement(LiveKind::Telemetry, "d2", true));
        assert!(!by_asset.needs_placement(LiveKind::Telemetry, "d1", true));
        let all = subscription(json!({"id": "s", "all": true})).unwrap();
        assert!(!all.needs_placement(LiveKind::Twin, "d1", false));
        assert!(all.matches(LiveKind::Twin, "any", None, None));
    }

    #[test]
    fn shapes_that_select_nothing_are_refused() {
        for bad in [
            json!({"id": "s"}),
            json!({"id": "", "all": true}),
            json!({"id": "x".repeat(MAX_ID_LEN + 1), "all": true}),
            json!({"id": "s", "all": true, "kinds": []}),
            json!({"id": "s", "devices": vec!["d"; MAX_SELECTORS + 1]}),
        ] {
            let error = subscription(bad.clone()).unwrap_err();
            assert_eq!(error.code, "invalid_frame", "{bad}");
        }
    }
}
