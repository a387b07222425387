//! The broker's extension points: authentication, authorization, publish interception and
//! presence events. The broker knows nothing about devices; the platform plugs its policy here.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::message::Message;

/// A boxed future returned by the asynchronous hooks.
pub type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// MQTT protocol version spoken by a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// MQTT 3.1 or 3.1.1.
    V311,
    /// MQTT 5.0.
    V5,
}

/// An MQTT reason code (MQTT 5 numbering), used for refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReasonCode(pub u8);

impl ReasonCode {
    /// 0x80 Unspecified error.
    pub const UNSPECIFIED_ERROR: Self = Self(0x80);
    /// 0x83 Implementation specific error.
    pub const IMPLEMENTATION_SPECIFIC_ERROR: Self = Self(0x83);
    /// 0x85 Client identifier not valid.
    pub const CLIENT_IDENTIFIER_NOT_VALID: Self = Self(0x85);
    /// 0x86 Bad user name or password.
    pub const BAD_USERNAME_OR_PASSWORD: Self = Self(0x86);
    /// 0x87 Not authorized.
    pub const NOT_AUTHORIZED: Self = Self(0x87);
    /// 0x88 Server unavailable.
    pub const SERVER_UNAVAILABLE: Self = Self(0x88);
    /// 0x89 Server busy.
    pub const SERVER_BUSY: Self = Self(0x89);
    /// 0x8A Banned.
    pub const BANNED: Self = Self(0x8A);
    /// 0x8C Bad authentication method.
    pub const BAD_AUTHENTICATION_METHOD: Self = Self(0x8C);
    /// 0x90 Topic name invalid.
    pub const TOPIC_NAME_INVALID: Self = Self(0x90);
    /// 0x97 Quota exceeded.
    pub const QUOTA_EXCEEDED: Self = Self(0x97);
    /// 0x99 Payload format invalid.
    pub const PAYLOAD_FORMAT_INVALID: Self = Self(0x99);
}

/// What a client presented in its CONNECT packet, for the [`Authenticator`].
#[derive(Debug, Clone)]
pub struct ConnectInfo<'a> {
    /// Client identifier (assigned by the broker when the client sent an empty one).
    pub client_id: &'a str,
    /// User name, if any.
    pub username: Option<&'a str>,
    /// Password, if any.
    pub password: Option<&'a [u8]>,
    /// Protocol version.
    pub protocol: ProtocolVersion,
    /// Remote address of the connection.
    pub peer: SocketAddr,
}

/// The authenticated identity of a client.
///
/// `namespace` isolates tenants: every topic a client publishes or subscribes to is routed
/// inside its namespace, transparently (like EMQX mountpoints). `identity` is opaque to the
/// broker and handed back to the [`Acl`], the [`PublishHook`] and presence events.
#[derive(Clone)]
pub struct Principal {
    namespace: Arc<str>,
    identity: Arc<dyn Any + Send + Sync>,
}

impl Principal {
    /// A principal in `namespace` with no identity attached.
    pub fn new(namespace: impl Into<Arc<str>>) -> Self {
        Self {
            namespace: namespace.into(),
            identity: Arc::new(()),
        }
    }

    /// The same principal carrying `identity`.
    pub fn with_identity<T: Any + Send + Sync>(mut self, identity: T) -> Self {
        self.identity = Arc::new(identity);
        self
    }

    /// The namespace (tenant) this principal's topics live in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The namespace as a shared string.
    pub(crate) fn namespace_arc(&self) -> &Arc<str> {
        &self.namespace
    }

    /// The attached identity, if it is a `T`.
    pub fn identity<T: Any>(&self) -> Option<&T> {
        self.identity.downcast_ref::<T>()
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Decides who may connect.
pub trait Authenticator: Send + Sync + 'static {
    /// Accepts the client with a [`Principal`] or refuses it with a CONNACK reason code
    /// (mapped to the nearest MQTT 3.1.1 return code for 3.1.1 clients).
    fn authenticate<'a>(
        &'a self,
        info: &'a ConnectInfo<'a>,
    ) -> HookFuture<'a, Result<Principal, ReasonCode>>;
}

/// Lets every client in, in the namespace given at construction.
#[derive(Debug, Clone)]
pub struct AllowAll {
    namespace: Arc<str>,
}

impl AllowAll {
    /// Admits everyone into `namespace`.
    pub fn new(namespace: impl Into<Arc<str>>) -> Self {
        Self {
            namespace: namespace.into(),
        }
    }
}

impl Authenticator for AllowAll {
    fn authenticate<'a>(
        &'a self,
        _: &'a ConnectInfo<'a>,
    ) -> HookFuture<'a, Result<Principal, ReasonCode>> {
        Box::pin(std::future::ready(Ok(Principal::new(
            self.namespace.clone(),
        ))))
    }
}

/// What a client wants to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Publish to a topic name.
    Publish,
    /// Subscribe to a topic filter (for shared subscriptions, the filter without `$share/group/`).
    Subscribe,
}

/// Authorizes each publish and subscription. Called on the hot path: keep it fast.
pub trait Acl: Send + Sync + 'static {
    /// True when `principal` may perform `action` on `topic` (a topic name or filter,
    /// relative to the principal's namespace).
    fn allowed(&self, principal: &Principal, topic: &str, action: Action) -> bool;
}

/// Permits everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct PermitAll;

impl Acl for PermitAll {
    fn allowed(&self, _: &Principal, _: &str, _: Action) -> bool {
        true
    }
}

/// The verdict of a [`PublishHook`] on an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishVerdict {
    /// Route the message to subscribers (and the retained store) as usual.
    Route,
    /// The hook took the message; acknowledge it without routing.
    Consumed,
    /// Refuse the message: MQTT 5 clients get this reason code (and string) in PUBACK/PUBREC;
    /// MQTT 3.1.1 clients, which have no way to learn it, get a plain acknowledgement.
    Refuse {
        /// Reason code, e.g. [`ReasonCode::PAYLOAD_FORMAT_INVALID`].
        code: ReasonCode,
        /// Human-readable reason string.
        reason: Option<String>,
    },
}

/// Facts about the publisher handed to the [`PublishHook`].
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    /// Client identifier.
    pub client_id: &'a str,
    /// Authenticated principal.
    pub principal: &'a Principal,
    /// Protocol version.
    pub protocol: ProtocolVersion,
}

/// Intercepts each inbound PUBLISH after authorization and before it is routed. The broker
/// acknowledges the message (PUBACK/PUBREC) only after the returned future completes, so a
/// hook that stores data makes the acknowledgement mean "durable".
pub trait PublishHook: Send + Sync + 'static {
    /// Inspects `message` from `publisher`.
    fn on_publish<'a>(
        &'a self,
        publisher: Publisher<'a>,
        message: &'a Message,
    ) -> HookFuture<'a, PublishVerdict>;

    /// Inspects authorised QoS 0/1 messages that one client pipelined (they arrived together,
    /// in this order), returning one verdict per message, in order. The broker routes and
    /// acknowledges them, in order, once the returned future completes. The default hands
    /// them to [`PublishHook::on_publish`] one by one; a hook that stores messages may store
    /// them together (one write instead of one per message).
    fn on_publish_batch<'a>(
        &'a self,
        publisher: Publisher<'a>,
        messages: &'a [Message],
    ) -> HookFuture<'a, Vec<PublishVerdict>> {
        Box::pin(async move {
            let mut verdicts = Vec::with_capacity(messages.len());
            for message in messages {
                verdicts.push(self.on_publish(publisher, message).await);
            }
            verdicts
        })
    }
}

/// Why a client's connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client sent DISCONNECT.
    ClientDisconnect,
    /// No packet arrived within 1.5 times the keepalive.
    KeepaliveTimeout,
    /// Another connection with the same client id took the session over.
    TakenOver,
    /// The connection closed or failed without DISCONNECT.
    ConnectionLost,
    /// The client broke the protocol; the MQTT 5 reason code sent or implied.
    ProtocolViolation(u8),
    /// The broker is shutting down.
    ServerShutdown,
}

/// What happened to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceKind {
    /// The client connected (CONNACK success sent).
    Connected,
    /// The client's connection ended.
    Disconnected(DisconnectReason),
}

/// A client's connection or disconnection.
#[derive(Debug, Clone)]
pub struct PresenceEvent {
    /// Connected or disconnected, and why.
    pub kind: PresenceKind,
    /// Client identifier.
    pub client_id: String,
    /// Authenticated principal.
    pub principal: Principal,
    /// Protocol version.
    pub protocol: ProtocolVersion,
    /// Remote address.
    pub peer: SocketAddr,
}

/// Observes connections and disconnections. Called inline: hand events off, never block.
pub trait PresenceHook: Send + Sync + 'static {
    /// One client connected or disconnected.
    fn on_presence(&self, event: PresenceEvent);
}

/// The set of hooks a broker runs with.
#[derive(Clone)]
pub struct Hooks {
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) acl: Arc<dyn Acl>,
    pub(crate) publish: Option<Arc<dyn PublishHook>>,
    pub(crate) presence: Option<Arc<dyn PresenceHook>>,
}

impl Hooks {
    /// Hooks with the given authenticator, an ACL that permits everything, no publish hook
    /// and no presence observer.
    pub fn new(authenticator: impl Authenticator) -> Self {
        Self {
            authenticator: Arc::new(authenticator),
            acl: Arc::new(PermitAll),
            publish: None,
            presence: None,
        }
    }

    /// Sets the ACL.
    pub fn with_acl(mut self, acl: impl Acl) -> Self {
        self.acl = Arc::new(acl);
        self
    }

    /// Sets the publish hook.
    pub fn with_publish_hook(mut self, hook: impl PublishHook) -> Self {
        self.publish = Some(Arc::new(hook));
        self
    }

    /// Sets the presence observer.
    pub fn with_presence_hook(mut self, hook: impl PresenceHook) -> Self {
        self.presence = Some(Arc::new(hook));
        self
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("publish", &self.publish.is_some())
            .field("presence", &self.presence.is_some())
            .finish_non_exhaustive()
    }
}
