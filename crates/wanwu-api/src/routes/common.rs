//! Shapes shared by route families: pagination and device views.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use wanwu_core::{OfflineReason, PresenceState};
use wanwu_model::entity::Device;
use wanwu_store::{MAX_LIMIT, Page, PageRequest};

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageResponse<T: utoipa::ToSchema> {
    /// The entries, ordered by id.
    pub items: Vec<T>,
    /// Pass as `cursor` to read the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T: utoipa::ToSchema> PageResponse<T> {
    /// The response of a page, mapping each entry.
    pub fn of<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        let page = page.map(f);
        PageResponse {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}

/// Builds the store's page request from `limit` and `cursor` query parameters.
pub fn page_request(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    if let Some(limit) = limit
        && !(1..=MAX_LIMIT).contains(&limit)
    {
        return Err(ApiError::invalid_query(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    Ok(PageRequest { limit, cursor })
}

/// `limit` and `cursor` of a plain list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Most entries to return, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The store's page request.
    pub fn page(self) -> Result<PageRequest, ApiError> {
        page_request(self.limit, self.cursor)
    }
}

/// Whether a device is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Holds a connection.
    Online,
    /// Does not.
    Offline,
}

/// A device with its connection state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    /// The device.
    #[serde(flatten)]
    pub device: Device,
    /// Connection state.
    pub status: DeviceStatus,
    /// Last time the device was heard from, ms since the Unix epoch.
    pub last_seen: Option<i64>,
    /// The device's newest connection (also after it ended); absent if it never connected.
    pub connection: Option<ConnectionView>,
    /// Why the last connection ended: `disconnect`, `keepalive_expired`, `taken_over`,
    /// `connection_lost`, `protocol_error` or `server_shutdown`.
    pub offline_reason: Option<&'static str>,
}

/// How a device is (or was last) connected.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    /// Protocol and version: `mqtt/3.1.1` or `mqtt/5`.
    pub protocol: &'static str,
    /// Remote address of the client, `ip:port`.
    pub client_address: String,
    /// When the connection opened, ms since the Unix epoch.
    pub connected_at: i64,
}

impl DeviceView {
    /// The view of `device` in `presence` state.
    pub fn new(device: Device, presence: PresenceState) -> Self {
        DeviceView {
            device,
            status: if presence.online {
                DeviceStatus::Online
            } else {
                DeviceStatus::Offline
            },
            last_seen: presence.last_seen,
            connection: presence.connection.map(|c| ConnectionView {
                protocol: c.protocol,
                client_address: c.client_address.to_string(),
                connected_at: c.connected_at,
            }),
            offline_reason: presence.last_offline_reason.map(OfflineReason::as_str),
        }
    }
}

/// A device with its token, returned once at creation and rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceWithTokenView {
    /// The device.
    #[serde(flatten)]
    pub device: DeviceView,
    /// The device's token (MQTT password); shown only now.
    pub token: String,
}
