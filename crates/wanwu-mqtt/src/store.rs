//! Persistence of retained messages and persistent sessions in the data directory.
//!
//! See the crate documentation for the on-disk format. One writer thread owns the files; it
//! appends records in group commits (all records submitted while the previous write was
//! under way go out in one `write` and one `fdatasync`), keeps a mirror of the durable state,
//! and compacts the log into a snapshot when it grows too large.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::config::FsyncPolicy;
use crate::message::{Publication, QoS};

const SNAPSHOT_FILE: &str = "snapshot";
const SNAPSHOT_TMP_FILE: &str = "snapshot.tmp";
const LOG_FILE: &str = "wal";
/// Frames larger than this are treated as corruption.
const MAX_FRAME: usize = 512 * 1024 * 1024;
/// Commands taken into one group commit at most.
const MAX_BATCH: usize = 4096;

/// Errors of the persistence layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The snapshot is damaged (it is written atomically, so this means disk damage).
    #[error("snapshot {0} is corrupt")]
    CorruptSnapshot(PathBuf),
    /// Appending to the log failed; the records are not durable.
    #[error("persistence log write failed: {0}")]
    Write(String),
    /// The store was closed.
    #[error("persistence store is closed")]
    Closed,
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredSubscription {
    /// Filter as written by the client.
    pub filter: ByteString,
    /// Granted QoS.
    pub qos: QoS,
    /// No-local option.
    pub no_local: bool,
    /// Retain-as-published option.
    pub retain_as_published: bool,
    /// Retain handling (0, 1 or 2).
    pub retain_handling: u8,
    /// Subscription identifier.
    pub id: Option<u32>,
}

/// A queued message as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredOutgoing {
    /// The publication.
    pub publication: Publication,
    /// Delivery QoS.
    pub qos: QoS,
    /// Retain flag to deliver with.
    pub retain: bool,
    /// Subscription identifiers.
    pub subscription_ids: Vec<u32>,
}

/// One change of durable state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Record {
    /// A retained message was set or replaced.
    RetainSet {
        /// Namespace.
        namespace: String,
        /// The message.
        publication: Publication,
    },
    /// A retained message was cleared.
    RetainClear {
        /// Namespace.
        namespace: String,
        /// Topic.
        topic: ByteString,
    },
    /// A persistent session was created or its settings/subscriptions changed.
    Session {
        /// Namespace.
        namespace: String,
        /// Client id.
        client_id: ByteString,
        /// Session expiry interval in seconds.
        expiry_secs: u32,
        /// All its subscriptions.
        subscriptions: Vec<StoredSubscription>,
    },
    /// A session ended.
    SessionDrop {
        /// Namespace.
        namespace: String,
        /// Client id.
        client_id: ByteString,
    },
    /// A QoS 1/2 message was queued for a persistent session.
    Enqueue {
        /// Namespace.
        namespace: String,
        /// Client id.
        client_id: ByteString,
        /// Sequence number, unique across the store.
        seq: u64,
        /// The message.
        message: StoredOutgoing,
    },
    /// A queued message was acknowledged by the client.
    Dequeue {
        /// Namespace.
        namespace: String,
        /// Client id.
        client_id: ByteString,
        /// Sequence number.
        seq: u64,
    },
}

/// A persistent session as stored.
#[derive(Debug, Clone, Default)]
pub(crate) struct DurableSession {
    /// Session expiry interval in seconds.
    pub expiry_secs: u32,
    /// Subscriptions.
    pub subscriptions: Vec<StoredSubscription>,
    /// Queued messages by sequence number.
    pub queue: BTreeMap<u64, StoredOutgoing>,
}

/// Everything durable: what recovery yields and what a snapshot holds.
#[derive(Debug, Default)]
pub(crate) struct DurableState {
    /// Retained messages by namespace and topic.
    pub retained: HashMap<(String, ByteString), Publication>,
    /// Persistent sessions by namespace and client id.
    pub sessions: HashMap<(String, ByteString), DurableSession>,
}

impl DurableState {
    /// Applies one record. Every record is idempotent, so replaying a log over a snapshot
    /// that already contains some of it yields the same state.
    fn apply(&mut self, record: Record) {
        match record {
            Record::RetainSet {
                namespace,
                publication,
            } => {
                let topic = publication.message.topic.clone();
                self.retained.insert((namespace, topic), publication);
            }
            Record::RetainClear { namespace, topic } => {
                self.retained.remove(&(namespace, topic));
            }
            Record::Session {
                namespace,
                client_id,
                expiry_secs,
                subscriptions,
            } => {
                let session = self.sessions.entry((namespace, client_id)).or_default();
                session.expiry_secs = expiry_secs;
                session.subscriptions = subscriptions;
            }
            Record::SessionDrop {
                namespace,
                client_id,
            } => {
                self.sessions.remove(&(namespace, client_id));
            }
            Record::Enqueue {
                namespace,
                client_id,
                seq,
                message,
            } => {
                if let Some(session) = self.sessions.get_mut(&(namespace, client_id)) {
                    session.queue.insert(seq, message);
                }
            }
            Record::Dequeue {
                namespace,
                client_id,
                seq,
            } => {
                if let Some(session) = self.sessions.get_mut(&(namespace, client_id)) {
                    session.queue.remove(&seq);
                }
            }
        }
    }

    /// The highest message sequence number held.
    pub fn max_seq(&self) -> u64 {
        self.sessions
            .values()
            .filter_map(|s| s.queue.keys().next_back().copied())
            .max()
            .unwrap_or(0)
    }

    /// Writes the whole state as records (the snapshot body).
    fn write_records(&self, out: &mut Vec<u8>) {
        for ((namespace, _), publication) in &self.retained {
            let record = Record::RetainSet {
                namespace: namespace.clone(),
                publication: publication.clone(),
            };
            encode_frame(&record, out);
        }
        for ((namespace, client_id), session) in &self.sessions {
            let record = Record::Session {
                namespace: namespace.clone(),
                client_id: client_id.clone(),
                expiry_secs: session.expiry_secs,
                subscriptions: session.subscriptions.clone(),
            };
            encode_frame(&record, out);
            for (&seq, message) in &session.queue {
                let record = Record::Enqueue {
                    namespace: namespace.clone(),
                    client_id: client_id.clone(),
                    seq,
                    message: message.clone(),
                };
                encode_frame(&record, out);
            }
        }
    }
}

/// Appends one frame: length (u32 LE), CRC-32 of the body (u32 LE), body (postcard).
fn encode_frame(record: &Record, out: &mut Vec<u8>) {
    let body = postcard::to_stdvec(record).expect("records always serialize");
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

/// Decodes frames from `data`: the records and the length of the valid prefix.
fn decode_frames(data: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while data.len() - at >= 8 {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(data[at + 4..at + 8].try_into().expect("4 bytes"));
        if len > MAX_FRAME || data.len() - at - 8 < len {
            break;
        }
        let body = &data[at + 8..at + 8 + len];
        if crc32fast::hash(body) != crc {
            break;
        }
        let Ok(record) = postcard::from_bytes::<Record>(body) else {
            break;
        };
        records.push(record);
        at += 8 + len;
    }
    (records, at)
}

enum Command {
    Append {
        records: Vec<Record>,
        done: Option<oneshot::Sender<Result<(), String>>>,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

/// Handle to the writer thread.
#[derive(Debug)]
pub(crate) struct Store {
    tx: mpsc::Sender<Command>,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, recovering its state. A torn or
    /// corrupt tail of the log (from a crash mid-write) is cut off.
    pub fn open(
        dir: &Path,
        fsync: FsyncPolicy,
        compact_after: u64,
    ) -> Result<(Self, DurableState), StoreError> {
        fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        let mut state = DurableState::default();
        let snapshot_path = dir.join(SNAPSHOT_FILE);
        match fs::read(&snapshot_path) {
            Ok(data) => {
                let (records, valid) = decode_frames(&data);
                if valid != data.len() {
                    return Err(StoreError::CorruptSnapshot(snapshot_path));
                }
                records.into_iter().for_each(|r| state.apply(r));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("read", &snapshot_path)(e)),
        }
        let log_path = dir.join(LOG_FILE);
        let mut log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(io_error("open", &log_path))?;
        let mut data = Vec::new();
        log.read_to_end(&mut data)
            .map_err(io_error("read", &log_path))?;
        let (records, valid) = decode_frames(&data);
        if valid != data.len() {
            tracing::warn!(path = %log_path.display(), cut = data.len() - valid, "cutting torn log tail");
        }
        records.into_iter().for_each(|r| state.apply(r));
        let mut writer = Writer {
            dir: dir.to_path_buf(),
            log,
            log_len: 0,
            state,
            fsync,
            compact_after,
            last_sync: Instant::now(),
        };
        writer.compact()?;
        let recovered = writer.snapshot_state();
        let (tx, rx) = mpsc::channel(MAX_BATCH);
        std::thread::Builder::new()
            .name("mqtt-store".into())
            .spawn(move || writer.run(rx))
            .map_err(io_error("spawn writer for", dir))?;
        Ok((Self { tx }, recovered))
    }

    /// Appends `records` and waits until they are durable per the fsync policy.
    pub async fn commit(&self, records: Vec<Record>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Append {
                records,
                done: Some(done),
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        wait.await
            .map_err(|_| StoreError::Closed)?
            .map_err(StoreError::Write)
    }

    /// Appends `records` without waiting for durability (acknowledgements of delivery).
    pub async fn append(&self, records: Vec<Record>) {
        let _ = self
            .tx
            .send(Command::Append {
                records,
                done: None,
            })
            .await;
    }

    /// Flushes, compacts and stops the writer.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Close { done }).await.is_ok() {
            let _ = wait.await;
        }
    }
}

struct Writer {
    dir: PathBuf,
    log: File,
    log_len: u64,
    state: DurableState,
    fsync: FsyncPolicy,
    compact_after: u64,
    last_sync: Instant,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(64);
        let mut buf = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            let mut waiters = Vec::new();
            let mut close = None;
            for command in batch.drain(..) {
                match command {
                    Command::Append { records, done } => {
                        for record in records {
                            encode_frame(&record, &mut buf);
                            self.state.apply(record);
                        }
                        waiters.extend(done);
                    }
                    Command::Close { done } => close = Some(done),
                }
            }
            let result = self
                .write_batch(&buf, close.is_some())
                .map_err(|e| e.to_string());
            buf.clear();
            if let Err(error) = &result {
                tracing::error!(%error, "persistence log write failed");
            }
            for waiter in waiters {
                let _ = waiter.send(result.clone());
            }
            if let Some(done) = close {
                if let Err(error) = self.compact() {
                    tracing::error!(%error, "final compaction failed");
                }
                let _ = done.send(());
                return;
            }
            if self.log_len > self.compact_after
                && let Err(error) = self.compact()
            {
                tracing::error!(%error, "compaction failed");
            }
        }
    }

    fn write_batch(&mut self, buf: &[u8], force_sync: bool) -> io::Result<()> {
        if !buf.is_empty() {
            self.log.write_all(buf)?;
            self.log_len += buf.len() as u64;
        }
        let sync = force_sync
            || match self.fsync {
                FsyncPolicy::Always => !buf.is_empty(),
                FsyncPolicy::Interval(every) => self.last_sync.elapsed() >= every,
                FsyncPolicy::Never => false,
            };
        if sync {
            self.log.sync_data()?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Writes the state to a new snapshot (atomically, by rename) and empties the log.
    fn compact(&mut self) -> Result<(), StoreError> {
        let tmp = self.dir.join(SNAPSHOT_TMP_FILE);
        let mut body = Vec::new();
        self.state.write_records(&mut body);
        let mut file = File::create(&tmp).map_err(io_error("create", &tmp))?;
        file.write_all(&body).map_err(io_error("write", &tmp))?;
        file.sync_all().map_err(io_error("sync", &tmp))?;
        let snapshot = self.dir.join(SNAPSHOT_FILE);
        fs::rename(&tmp, &snapshot).map_err(io_error("rename", &snapshot))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error("sync", &self.dir))?;
        let log_path = self.dir.join(LOG_FILE);
        self.log
            .set_len(0)
            .map_err(io_error("truncate", &log_path))?;
        self.log
            .seek(SeekFrom::Start(0))
            .map_err(io_error("seek", &log_path))?;
        self.log.sync_all().map_err(io_error("sync", &log_path))?;
        self.log_len = 0;
        Ok(())
    }

    fn snapshot_state(&self) -> DurableState {
        DurableState {
            retained: self.state.retained.clone(),
            sessions: self.state.sessions.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn retain(topic: &str) -> Record {
        Record::RetainSet {
            namespace: "t".into(),
            publication: Publication::new(Message::new(topic.to_string(), "v"), 0),
        }
    }

    #[test]
    fn torn_tails_are_cut_at_the_last_whole_frame() {
        let mut data = Vec::new();
        encode_frame(&retain("a"), &mut data);
        let whole = data.len();
        encode_frame(&retain("b"), &mut data);
        for cut in whole..data.len() {
            let (records, valid) = decode_frames(&data[..cut]);
            assert_eq!((records.len(), valid), (1, whole));
        }
        let mut flipped = data.clone();
        *flipped.last_mut().unwrap() ^= 0xff;
        assert_eq!(decode_frames(&flipped).1, whole);
    }

    #[tokio::test]
    async fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (store, state) = Store::open(dir.path(), FsyncPolicy::Always, 1 << 20).unwrap();
        assert!(state.retained.is_empty());
        store.commit(vec![retain("a"), retain("b")]).await.unwrap();
        store
            .commit(vec![Record::RetainClear {
                namespace: "t".into(),
                topic: "a".into(),
            }])
            .await
            .unwrap();
        drop(store);
        let (_store, state) = Store::open(dir.path(), FsyncPolicy::Always, 1 << 20).unwrap();
        let topics: Vec<_> = state.retained.keys().map(|(_, t)| t.to_string()).collect();
        assert_eq!(topics, ["b"]);
    }
}
