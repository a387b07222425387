//! Aggregation across the devices under an asset: one key, bucketed, the points of every
//! device pooled per bucket (the hourly average PM2.5 of a district is the mean of every
//! reading of its stations in that hour). With `group=child` there is one series per child
//! asset (devices of its whole subtree), plus one for devices attached to the asset itself.

use super::error::QueryError;
use super::params::{AssetParams, Bucketing, Window};
use super::{SeriesPoint, Telemetry, blocking, buckets_to_points, is_numeric};
use crate::error::CoreError;
use crate::scope::Scope;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use wanwu_model::entity::{Asset, Device};
use wanwu_store::{AssetFilter, DeviceFilter, MAX_LIMIT, Page, PageRequest};
use wanwu_tsdb::SeriesKey;

/// Most devices one asset query may pool.
pub const MAX_ASSET_DEVICES: usize = 100_000;

/// The series of one group of devices.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AssetGroup {
    /// The asset whose devices are pooled (a child asset, or the asset itself for the
    /// devices attached directly to it, or for the whole subtree without grouping).
    pub asset: String,
    /// Its display name.
    pub name: String,
    /// Devices in the group that have the key.
    pub devices: usize,
    /// Non-empty buckets, oldest first.
    pub points: Vec<SeriesPoint>,
}

/// The answer of an asset telemetry query.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AssetSeries {
    /// The asset queried.
    pub asset: String,
    /// The key aggregated.
    pub key: String,
    /// The aggregation.
    pub agg: String,
    /// The bucket width.
    pub interval: String,
    /// The zone buckets are aligned in.
    pub tz: String,
    /// One group per child asset (`group=child`), or one for the whole subtree.
    pub groups: Vec<AssetGroup>,
}

struct Group {
    asset: String,
    name: String,
    devices: Vec<Device>,
}

impl Telemetry {
    /// Aggregates `key` across the devices under asset `id`.
    pub async fn asset_aggregate(
        &self,
        scope: &Scope,
        id: &str,
        params: &AssetParams,
    ) -> Result<AssetSeries, QueryError> {
        let asset = self.registry.get_asset(scope, id).await?;
        let key = params
            .key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| QueryError::bad("key is required (e.g. key=pm25)"))?;
        let interval = params
            .interval
            .as_deref()
            .ok_or_else(|| QueryError::bad("interval is required (e.g. interval=1h)"))?;
        let bucketing = Bucketing::parse(interval, params.agg.as_deref(), params.tz.as_deref())?;
        let window = Window::parse(
            params.from.as_deref(),
            params.to.as_deref(),
            self.newest_accepted(),
        )?;
        let groups = match params.group.as_deref() {
            None => vec![Group {
                devices: self.subtree_devices(scope, &asset.id).await?,
                asset: asset.id.clone(),
                name: asset.name.clone(),
            }],
            Some("child") => self.child_groups(scope, &asset).await?,
            Some(other) => {
                return Err(QueryError::bad(format!(
                    "group {other:?}: the only grouping is group=child"
                )));
            }
        };
        let carriers = self.carriers_of(scope, &groups, &key, &bucketing).await?;
        let tsdb = self.tsdb.clone();
        let tenant = scope.tenant.clone();
        let key_for_query = key.clone();
        let b = bucketing.clone();
        let groups = blocking(move || {
            groups
                .into_iter()
                .map(|group| {
                    let series: Vec<SeriesKey> = group
                        .devices
                        .iter()
                        .filter(|d| carriers.contains(&d.product))
                        .map(|d| {
                            SeriesKey::new(tenant.as_str(), d.id.as_str(), key_for_query.as_str())
                        })
                        .collect();
                    let buckets = tsdb.query_agg_many(
                        &series,
                        window.from,
                        window.to,
                        b.interval,
                        b.agg,
                        &b.tz,
                    )?;
                    Ok(AssetGroup {
                        asset: group.asset,
                        name: group.name,
                        devices: series.len(),
                        points: buckets_to_points(buckets),
                    })
                })
                .collect::<Result<Vec<_>, QueryError>>()
        })
        .await??;
        Ok(AssetSeries {
            asset: asset.id,
            key,
            agg: bucketing.agg.name().to_owned(),
            interval: bucketing.interval_text,
            tz: bucketing.tz_name,
            groups,
        })
    }

    /// One group per child asset, and one for devices attached to `asset` itself if any.
    async fn child_groups(&self, scope: &Scope, asset: &Asset) -> Result<Vec<Group>, QueryError> {
        let filter = AssetFilter {
            parent: Some(asset.id.clone()),
            ..AssetFilter::default()
        };
        let (registry, filter) = (&self.registry, &filter);
        let children = all_pages(|page| {
            Box::pin(async move { registry.list_assets(scope, filter, &page).await })
        })
        .await?;
        let mut groups = Vec::with_capacity(children.len() + 1);
        let direct = DeviceFilter {
            asset: Some(asset.id.clone()),
            ..DeviceFilter::default()
        };
        let direct = &direct;
        let own = all_pages(|page| {
            Box::pin(async move { registry.list_devices(scope, direct, &page).await })
        })
        .await?;
        if !own.is_empty() {
            groups.push(Group {
                asset: asset.id.clone(),
                name: asset.name.clone(),
                devices: own,
            });
        }
        let mut total = groups.iter().map(|g| g.devices.len()).sum::<usize>();
        for child in children {
            let devices = self.subtree_devices(scope, &child.id).await?;
            total += devices.len();
            if total > MAX_ASSET_DEVICES {
                return Err(too_many_devices());
            }
            groups.push(Group {
                asset: child.id,
                name: child.name,
                devices,
            });
        }
        Ok(groups)
    }

    async fn subtree_devices(&self, scope: &Scope, asset: &str) -> Result<Vec<Device>, QueryError> {
        let registry = &self.registry;
        let devices = all_pages(|page| {
            Box::pin(async move { registry.devices_under_asset(scope, asset, &page).await })
        })
        .await?;
        if devices.len() > MAX_ASSET_DEVICES {
            return Err(too_many_devices());
        }
        Ok(devices)
    }

    /// The products of the groups' devices that have `key` as a property, checking that at
    /// least one does (when there are devices) and that it suits the aggregation.
    async fn carriers_of(
        &self,
        scope: &Scope,
        groups: &[Group],
        key: &str,
        bucketing: &Bucketing,
    ) -> Result<BTreeSet<String>, QueryError> {
        let products: BTreeSet<&str> = groups
            .iter()
            .flat_map(|g| g.devices.iter().map(|d| d.product.as_str()))
            .collect();
        let mut carriers = BTreeSet::new();
        let mut kinds = BTreeMap::new();
        for product in &products {
            let definition = self.registry.product_of(&scope.tenant, product).await?;
            if let Some(property) = definition.property(key) {
                carriers.insert((*product).to_owned());
                kinds.insert(*product, property.kind);
            }
        }
        if !products.is_empty() && carriers.is_empty() {
            return Err(QueryError::bad(format!(
                "unknown key {key:?}: no device under the asset has such a property"
            )));
        }
        if bucketing.needs_numbers() && kinds.values().any(|k| !is_numeric(*k)) {
            return Err(QueryError::bad(format!(
                "agg={} needs numbers, but {key:?} does not hold numbers (use count, first or last)",
                bucketing.agg.name()
            )));
        }
        Ok(carriers)
    }
}

fn too_many_devices() -> QueryError {
    QueryError::bad(format!(
        "the asset holds more than {MAX_ASSET_DEVICES} devices; query a smaller subtree"
    ))
}

/// The future of one page of a list.
type PageFuture<'a, T> = Pin<Box<dyn Future<Output = Result<Page<T>, CoreError>> + Send + 'a>>;

/// Every entry of a paged list, read a page of the largest size at a time.
async fn all_pages<'a, T>(
    mut fetch: impl FnMut(PageRequest) -> PageFuture<'a, T>,
) -> Result<Vec<T>, QueryError> {
    let mut out = Vec::new();
    let mut page = PageRequest {
        limit: Some(MAX_LIMIT),
        cursor: None,
    };
    loop {
        let Page { items, next_cursor } = fetch(page.clone()).await?;
        out.extend(items);
        if out.len() > MAX_ASSET_DEVICES {
            return Err(too_many_devices());
        }
        match next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(out),
        }
    }
}
