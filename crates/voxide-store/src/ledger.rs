//! The audit ledger's storage: entries and signed checkpoints in the index database, the Merkle
//! tree in memory (`voxide-ledger`), and the keys in `<data_dir>/keys/`.
//!
//! [`AuditLog::record`] appends to the tree at once (the entry's index is fixed there, in call
//! order) and hands the bytes to a writer task that inserts whatever is waiting in one
//! transaction, so auditing a request costs a hash and a channel send, not a commit. Checkpoints
//! are signed only over entries already committed. A process killed between the two loses the
//! entries of its last moments, never the order or content of committed ones. The writer
//! commits without its own fsync (see [`AuditLog::open`]); a power loss can take the ledger's
//! last batch with the last relaxed commits, never leave a gap.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot, Mutex};
use voxide_ledger::{keyed_hash, Entry, Hash, Ledger, SigningKey, VerifierKey};

use crate::StoreError;

/// Tables of the ledger (part of index schema 4).
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ledger_entries (
    idx INTEGER PRIMARY KEY,
    entry BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"#;

/// File names under `<data_dir>/keys/`.
const SIGNING_KEY_FILE: &str = "ledger-signing.key";
const VERIFIER_KEY_FILE: &str = "ledger-verifier.pub";
const PATIENT_KEY_FILE: &str = "patient-hmac.key";
/// The key of de-identified exports (UIDs, pseudonyms, date offsets).
pub(crate) const DEID_KEY_FILE: &str = "deid.key";

#[derive(Debug)]
enum WriterMessage {
    Entry(u64, Vec<u8>),
    Flush(oneshot::Sender<Result<u64, String>>),
}

/// The ledger of one store.
#[derive(Debug)]
pub(crate) struct AuditLog {
    ledger: std::sync::Mutex<Ledger>,
    queue: mpsc::UnboundedSender<WriterMessage>,
    patient_key: Vec<u8>,
    /// Entries committed to the database (checkpoints sign no more than this).
    committed: Arc<std::sync::atomic::AtomicU64>,
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the secret key in `path` (hexadecimal), or creates the file with 32 random bytes,
/// readable by its owner only. Returns the key and whether it was created.
pub fn load_or_create_secret(path: &Path) -> Result<(Vec<u8>, bool), StoreError> {
    match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim()).map(|k| (k, false)).map_err(|e| {
            StoreError::Internal(format!("{}: not a hexadecimal key ({e})", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes()?;
            write_secret(path, &format!("{}\n", hex::encode(key)))?;
            Ok((key.to_vec(), true))
        }
        Err(e) => Err(io_error(path, e)),
    }
}

/// Writes a secret file readable by its owner only, failing if it exists.
fn write_secret(path: &Path, text: &str) -> Result<(), StoreError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| io_error(path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(path, e))
}

fn random_bytes() -> Result<[u8; 32], StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Internal(format!("no secure random source: {e}")))?;
    Ok(bytes)
}

/// The ledger's keys: created at the first start, read afterwards.
fn load_keys(data_dir: &Path) -> Result<(SigningKey, Vec<u8>), StoreError> {
    let dir = data_dir.join("keys");
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let signing_path = dir.join(SIGNING_KEY_FILE);
    let signing = match std::fs::read_to_string(&signing_path) {
        Ok(text) => SigningKey::parse(text.trim())
            .map_err(|e| StoreError::Internal(format!("{}: {e}", signing_path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed = random_bytes()?;
            // The log's name: unique per deployment, so checkpoints of two stores never mix.
            let name = format!("voxide-ledger-{}", hex::encode(&random_bytes()?[..6]));
            let key = SigningKey::from_seed(&name, seed)
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            write_secret(&signing_path, &format!("{}\n", key.to_private_string()))?;
            key
        }
        Err(e) => return Err(io_error(&signing_path, e)),
    };
    let verifier_path = dir.join(VERIFIER_KEY_FILE);
    if !verifier_path.exists() {
        std::fs::write(&verifier_path, format!("{}\n", signing.verifier()))
            .map_err(|e| io_error(&verifier_path, e))?;
    }
    let (patient_key, _) = load_or_create_secret(&dir.join(PATIENT_KEY_FILE))?;
    Ok((signing, patient_key))
}

async fn load_entries(pool: &SqlitePool) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = sqlx::query("SELECT idx, entry FROM ledger_entries ORDER BY idx")
        .fetch_all(pool)
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for (expected, row) in rows.into_iter().enumerate() {
        let idx: i64 = row.get(0);
        if idx != expected as i64 {
            return Err(StoreError::Internal(format!(
                "the audit ledger has no entry {expected} (next stored: {idx}): entries were removed \
                 from the index; run `voxide ledger verify` to see what can still be trusted"
            )));
        }
        entries.push(row.get::<Vec<u8>, _>(1));
    }
    Ok(entries)
}

impl AuditLog {
    /// Opens the ledger of the store in `data_dir` (keys created at the first start) and starts
    /// its writer.
    pub(crate) async fn open(
        data_dir: &Path,
        pool: SqlitePool,
        write_lock: Arc<Mutex<()>>,
    ) -> Result<AuditLog, StoreError> {
        let (signing, patient_key) = load_keys(data_dir)?;
        let entries = load_entries(&pool).await?;
        let origin = signing.name().to_string();
        let ledger = Ledger::load(&origin, signing, entries.iter().map(Vec::as_slice));
        let committed = Arc::new(std::sync::atomic::AtomicU64::new(ledger.len()));
        let (queue, messages) = mpsc::unbounded_channel();
        // The writer's own connection commits without fsync (WAL, synchronous=NORMAL): an
        // fsync per ledger batch cost ingest 10-14% (bench/ledger). Its commits survive a killed
        // process (they are in the WAL, in the OS cache) and reach the disk with the next
        // index commit, whose fsync covers every WAL frame before it.
        let writer_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(data_dir.join("index.sqlite"))
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(std::time::Duration::from_secs(30)),
            )
            .await?;
        drop(pool);
        tokio::spawn(writer(writer_pool, write_lock, messages, committed.clone()));
        Ok(AuditLog {
            ledger: std::sync::Mutex::new(ledger),
            queue,
            patient_key,
            committed,
        })
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an entry; returns its index.
    pub(crate) fn record(&self, entry: &Entry) -> u64 {
        let mut ledger = self.ledger();
        let (index, bytes) = ledger.append(entry);
        // Sent under the lock, so the writer sees entries in index order.
        let _ = self.queue.send(WriterMessage::Entry(index, bytes));
        index
    }

    /// The keyed hash that stands for a patient in entries.
    pub(crate) fn patient_ref(&self, patient_id: &str) -> String {
        keyed_hash(&self.patient_key, patient_id)
    }

    /// Waits until every entry recorded so far is committed; returns how many are.
    pub(crate) async fn flush(&self) -> Result<u64, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(WriterMessage::Flush(reply))
            .map_err(|_| StoreError::Internal("the ledger writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Internal("the ledger writer has stopped".into()))?
            .map_err(StoreError::Internal)
    }

    /// Number of committed entries.
    pub(crate) fn committed(&self) -> u64 {
        self.committed.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn origin(&self) -> String {
        self.ledger().origin().to_string()
    }

    pub(crate) fn verifier(&self) -> VerifierKey {
        self.ledger().verifier()
    }

    /// A signed checkpoint of the first `size` entries.
    pub(crate) fn sign(&self, size: u64) -> Result<String, StoreError> {
        let ledger = self.ledger();
        let root = ledger
            .tree()
            .root_at(size)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        ledger
            .sign_checkpoint(size, root)
            .map_err(|e| StoreError::Internal(e.to_string()))
    }

    pub(crate) fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.ledger()
            .tree()
            .inclusion_proof(index, size)
            .map_err(|e| StoreError::Query(e.to_string()))
    }

    pub(crate) fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        self.ledger()
            .tree()
            .consistency_proof(from, to)
            .map_err(|e| StoreError::Query(e.to_string()))
    }
}

/// Inserts waiting entries in one transaction each round; answers flushes after the commit.
async fn writer(
    pool: SqlitePool,
    write_lock: Arc<Mutex<()>>,
    mut messages: mpsc::UnboundedReceiver<WriterMessage>,
    committed: Arc<std::sync::atomic::AtomicU64>,
) {
    while let Some(first) = messages.recv().await {
        // Entries come one per request: gathering them for a moment makes one small commit of
        // many, so the ledger takes the index's write lock a few dozen times a second at most
        // instead of once per request (which cost concurrent STOW-RS ingest 12%).
        if matches!(first, WriterMessage::Entry(..)) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut entries = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                WriterMessage::Entry(index, bytes) => entries.push((index, bytes)),
                WriterMessage::Flush(reply) => flushes.push(reply),
            }
            next = if entries.len() < 4096 {
                messages.try_recv().ok()
            } else {
                None
            };
        }
        let result = if entries.is_empty() {
            Ok(())
        } else {
            let _guard = write_lock.lock().await;
            insert(&pool, &entries).await
        };
        match &result {
            Ok(()) => {
                if let Some((last, _)) = entries.last() {
                    committed.store(last + 1, std::sync::atomic::Ordering::Release);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, count = entries.len(), "audit ledger entries not stored")
            }
        }
        let answer = result
            .map(|()| committed.load(std::sync::atomic::Ordering::Acquire))
            .map_err(|e| e.to_string());
        for reply in flushes {
            let _ = reply.send(answer.clone());
        }
    }
}

async fn insert(pool: &SqlitePool, entries: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    for (index, bytes) in entries {
        sqlx::query("INSERT INTO ledger_entries (idx, entry) VALUES (?, ?)")
            .bind(*index as i64)
            .bind(bytes.as_slice())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A ledger as stored, read without opening the store (the server may be running).
#[derive(Debug)]
pub struct StoredLedger {
    /// The log's name.
    pub origin: String,
    /// The public key in `<data_dir>/keys/`.
    pub verifier: VerifierKey,
    /// Entries in index order, with their stored index.
    pub entries: Vec<(i64, Vec<u8>)>,
    /// Signed checkpoints, smallest first.
    pub checkpoints: Vec<String>,
    /// Where the verifier key was read.
    pub verifier_path: PathBuf,
}

/// Reads the ledger of the store in `data_dir` (only reading; SQLite lets this run beside a
/// running server).
pub async fn read_ledger(data_dir: &Path) -> Result<StoredLedger, StoreError> {
    let index = data_dir.join("index.sqlite");
    if !index.exists() {
        return Err(StoreError::Internal(format!(
            "{}: no index database; is {} a voxide data folder?",
            index.display(),
            data_dir.display()
        )));
    }
    let verifier_path = data_dir.join("keys").join(VERIFIER_KEY_FILE);
    let text = std::fs::read_to_string(&verifier_path).map_err(|e| io_error(&verifier_path, e))?;
    let verifier = VerifierKey::parse(text.trim())
        .map_err(|e| StoreError::Internal(format!("{}: {e}", verifier_path.display())))?;
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&index))
        .await?;
    let entries = sqlx::query("SELECT idx, entry FROM ledger_entries ORDER BY idx")
        .fetch_all(&pool)
        .await?
        .into_iter()
        .map(|r| (r.get::<i64, _>(0), r.get::<Vec<u8>, _>(1)))
        .collect();
    let checkpoints = sqlx::query_scalar("SELECT note FROM ledger_checkpoints ORDER BY size")
        .fetch_all(&pool)
        .await?;
    pool.close().await;
    Ok(StoredLedger {
        origin: verifier.name().to_string(),
        verifier,
        entries,
        checkpoints,
        verifier_path,
    })
}

/// Stores a checkpoint note for `size` entries unless one is stored for that size.
pub(crate) async fn store_checkpoint(
    pool: &SqlitePool,
    size: u64,
    note: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT OR IGNORE INTO ledger_checkpoints (size, note) VALUES (?, ?)")
        .bind(size as i64)
        .bind(note)
        .execute(pool)
        .await?;
    Ok(())
}

/// The stored checkpoint of the largest size.
pub(crate) async fn latest_checkpoint(
    pool: &SqlitePool,
) -> Result<Option<(u64, String)>, StoreError> {
    let row = sqlx::query("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| (r.get::<i64, _>(0) as u64, r.get::<String, _>(1))))
}
