//! Thing model, identifiers, values and the Message that travels the one path of data; validation. No I/O.
//!
//! - [`id`]: the rules every identifier (tenant, product, device, asset, property) follows.
//! - [`thing`]: products with their properties, events and commands, and their validation.
//! - [`value`]: property values and the check of a JSON value against a property.
//! - [`entity`]: tenants, API tokens, devices and assets as the registry keeps them.
//! - [`message`]: the [`Message`] every adapter produces, and parsing of telemetry payloads.
//! - [`error`]: validation errors that name the path of the offending field.

pub mod entity;
pub mod error;
pub mod id;
pub mod message;
pub mod thing;
pub mod value;

pub use entity::{
    ApiToken, ApiTokenPatch, Asset, AssetPatch, Device, DevicePatch, NewApiToken, NewAsset,
    NewDevice, NewTenant, ProductPatch, ProductRecord, Role, Tenant, TenantPatch,
};
pub use error::{FieldError, ValidationErrors};
pub use message::{Message, MessageKind, Point, TelemetryError, parse_telemetry};
pub use thing::{Access, Command, Event, Param, Product, Property, PropertyType, Severity};
pub use value::{GeoPoint, Value};
