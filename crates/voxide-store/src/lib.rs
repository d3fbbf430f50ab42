//! # voxide-store
//!
//! The imaging store: one ingest path for every way objects arrive (folder import today;
//! STOW-RS and C-STORE build on it), an index of patients, studies, series and instances in
//! SQLite (through `sqlx`), and the objects themselves as files (through `object_store`, on local
//! disk by default).
//!
//! ## Ingest and crash safety
//!
//! [`Store::ingest`] parses and validates the object (required UIDs present and well formed,
//! one study per series, one patient per study), then:
//!
//! 1. writes the file under its content hash (`instances/ab/<sha256>.dcm`) with
//!    create-if-absent semantics; `object_store`'s local backend writes a temporary file, fsyncs
//!    it, renames it into place and fsyncs the folder, so no half-written file is ever visible;
//! 2. indexes it in one SQLite transaction (WAL journal, synchronous=FULL).
//!
//! A crash between the two leaves an unindexed file, never an index row without its file.
//! Re-sending the instance finds the file already there (same bytes, same name) and indexes it;
//! [`Store::check`] reports (and with `repair`, removes) files that nothing references.
//! A crash during step 1 can leave a staged temporary file (`<name>#<n>`) that no listing shows;
//! the store holds an exclusive lock on its data folder (`voxide.lock`), so [`Store::open`] knows
//! no other process is writing and removes such leftovers.
//! Identical re-sends are no-ops; the same SOP Instance UID with other bytes is refused or
//! replaces the stored one, as [`ConflictPolicy`] says, and is always logged.

mod access;
pub mod jobs;
mod ledger;
mod parse;
pub mod query;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tokio::sync::Mutex;

pub use access::{Account, Collection, Scope, TokenRecord};
pub use jobs::{Job, JobState, NewJob, SeriesArrival, SeriesSummary};
pub use ledger::{load_or_create_secret, read_ledger, StoredLedger};
pub use parse::check_uid;
pub use query::{Attribute, Level, Query, Record, Value};
pub use voxide_ledger::{Action as AuditAction, Entry as AuditEntry, Outcome as AuditOutcome};

/// Errors of the store. Invalid input and conflicts are the sender's to fix; database and
/// storage errors are the operator's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object cannot be stored as it is (not DICOM, missing or malformed UIDs).
    #[error("invalid DICOM object: {0}")]
    Invalid(String),
    /// The SOP Instance UID is stored with other content and the policy is to refuse.
    #[error("SOP Instance {0} is already stored with different content; refused (set the conflict policy to overwrite to replace it)")]
    Conflict(String),
    /// The object contradicts what the index holds (a series moving to another study, ...).
    #[error("inconsistent with stored objects: {0}")]
    Hierarchy(String),
    /// The object would change what must not change this way (a de-identified copy).
    #[error("refused: {0}")]
    Refused(String),
    #[error("index database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("object storage error: {0}")]
    Objects(#[from] object_store::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A query the index cannot answer as asked (bad range, key not matchable at the level).
    #[error("invalid query: {0}")]
    Query(String),
    /// Another process holds the data folder.
    #[error("{}: the data folder is in use by another voxide process (stop it, or use another --data-dir)", path.display())]
    Busy { path: PathBuf },
    #[error("internal error: {0}")]
    Internal(String),
}

/// What to do when an instance arrives again with other bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// Keep the stored instance, refuse the new one.
    #[default]
    Reject,
    /// Replace the stored instance.
    Overwrite,
}

impl FromStr for ConflictPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reject" => Ok(Self::Reject),
            "overwrite" => Ok(Self::Overwrite),
            other => Err(format!(
                "unknown conflict policy '{other}': use reject or overwrite"
            )),
        }
    }
}

/// How hard the store works to keep what it acknowledged through a power loss or OS crash.
/// Both survive a killed process (kill -9): written data is in the operating system's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every file, its folder entry and every index commit are on disk (fsync) before an
    /// instance is acknowledged.
    #[default]
    Full,
    /// No fsync per instance: files and the index reach the disk when the OS writes them back
    /// (SQLite WAL with synchronous=NORMAL stays consistent). A power loss can lose the last
    /// acknowledged instances, and leave files the index lacks or rows whose file is missing,
    /// which `voxide check` reports. Orthanc's defaults are of this kind.
    Relaxed,
}

impl FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(Self::Full),
            "relaxed" => Ok(Self::Relaxed),
            other => Err(format!("unknown durability '{other}': use full or relaxed")),
        }
    }
}

/// Where and how the store keeps its data.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Holds `index.sqlite` and `objects/`.
    pub data_dir: PathBuf,
    pub on_conflict: ConflictPolicy,
    pub durability: Durability,
    /// Keep the audit ledger (every store, query and retrieval recorded, signed checkpoints).
    /// Off only to measure what it costs.
    pub audit: bool,
}

/// Who does something to the store, as the audit ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A user, service account, DICOM peer (`AE@address`) or `local` for the command line.
    pub name: String,
    /// Its role at the time.
    pub role: String,
}

impl Actor {
    /// The local command line (whoever can run it can read the data folder anyway).
    pub fn local() -> Actor {
        Actor {
            name: format!(
                "local:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            ),
            role: "admin".into(),
        }
    }
}

/// What ingesting one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// A new instance.
    Stored,
    /// The same instance with the same bytes was already stored: nothing changed.
    Duplicate,
    /// The instance replaced a stored one with other bytes (policy overwrite).
    Replaced,
}

/// The result of a successful ingest.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub outcome: IngestOutcome,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub bytes: u64,
}

/// Where an instance is and what it is, as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRef {
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub sop_instance_uid: String,
    pub sop_class_uid: String,
    /// The transfer syntax the file is stored in.
    pub transfer_syntax: String,
    pub size: u64,
    pub sha256: String,
    pub frames: Option<i64>,
}

/// Counts of what the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub patients: u64,
    pub studies: u64,
    pub series: u64,
    pub instances: u64,
    pub bytes: u64,
}

/// What [`Store::check`] found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub instances: u64,
    /// SOP Instance UIDs whose file is missing.
    pub missing: Vec<String>,
    /// SOP Instance UIDs whose file differs from what was indexed (size, or content when deep).
    pub corrupt: Vec<String>,
    /// Files that no instance references.
    pub orphans: Vec<String>,
    /// Orphans removed (repair).
    pub removed: usize,
}

impl CheckReport {
    /// True when index and files agree.
    pub fn is_consistent(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty() && self.orphans.len() == self.removed
    }
}

/// The imaging store.
#[derive(Debug)]
pub struct Store {
    pool: SqlitePool,
    objects: Arc<dyn ObjectStore>,
    config: StoreConfig,
    /// SQLite has one writer; index transactions take this lock so that they queue here rather
    /// than fail with SQLITE_BUSY.
    write_lock: Arc<Mutex<()>>,
    /// Index jobs for the group-commit writer.
    index_queue: tokio::sync::mpsc::Sender<IndexJob>,
    /// Holds the exclusive lock on the data folder while the store is open.
    _folder_lock: std::fs::File,
    /// Staged files of interrupted writes removed when the store was opened.
    partial_writes_removed: usize,
    /// The audit ledger, when on.
    audit: Option<ledger::AuditLog>,
    /// (collection, study) pairs known to be in the index.
    collected: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// Studies recorded as de-identified copies (`deidentified_studies`), checked on every
    /// ingest.
    deidentified: std::sync::RwLock<std::collections::HashSet<String>>,
}

/// Version 2 added the computed study and series attributes (counts, modalities in study);
/// version 3 the jobs and series arrivals, version 4 the audit ledger (new tables and a trigger
/// only, created by [`SCHEMA`] and [`ledger::SCHEMA`]), version 5 access control (tables only,
/// [`access::SCHEMA`]). Kept in step with the `PRAGMA
/// user_version` written in [`Store::open`].
const SCHEMA_VERSION: i64 = 5;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS patients (
    pk INTEGER PRIMARY KEY,
    patient_id TEXT NOT NULL UNIQUE,
    patient_name TEXT,
    birth_date TEXT,
    sex TEXT
);
CREATE TABLE IF NOT EXISTS studies (
    pk INTEGER PRIMARY KEY,
    study_uid TEXT NOT NULL UNIQUE,
    patient_pk INTEGER NOT NULL REFERENCES patients(pk),
    study_date TEXT,
    study_time TEXT,
    accession_number TEXT,
    study_id TEXT,
    description TEXT,
    referring_physician TEXT,
    modalities TEXT,
    num_series INTEGER NOT NULL DEFAULT 0,
    num_instances INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS studies_patient ON studies(patient_pk);
CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date);
CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession_number);
CREATE TABLE IF NOT EXISTS series (
    pk INTEGER PRIMARY KEY,
    series_uid TEXT NOT NULL UNIQUE,
    study_pk INTEGER NOT NULL REFERENCES studies(pk),
    modality TEXT,
    series_number INTEGER,
    description TEXT,
    body_part TEXT,
    num_instances INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS series_study ON series(study_pk);
CREATE TABLE IF NOT EXISTS instances (
    pk INTEGER PRIMARY KEY,
    sop_uid TEXT NOT NULL UNIQUE,
    series_pk INTEGER NOT NULL REFERENCES series(pk),
    sop_class_uid TEXT NOT NULL,
    instance_number INTEGER,
    transfer_syntax TEXT NOT NULL,
    rows_ INTEGER,
    columns_ INTEGER,
    frames INTEGER,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS instances_series ON instances(series_pk);
CREATE INDEX IF NOT EXISTS instances_sha ON instances(sha256);
CREATE INDEX IF NOT EXISTS patients_name ON patients(patient_name COLLATE NOCASE);
-- The computed attributes, kept by the database itself (an UPSERT that updates does not fire
-- INSERT triggers, so a replaced instance is not counted twice).
CREATE TRIGGER IF NOT EXISTS series_counts AFTER INSERT ON series BEGIN
    UPDATE studies SET num_series = num_series + 1,
        modalities = (SELECT group_concat(m, '\') FROM (SELECT DISTINCT modality AS m FROM series s WHERE s.study_pk = NEW.study_pk AND modality IS NOT NULL AND modality <> '' ORDER BY m))
    WHERE pk = NEW.study_pk;
END;
CREATE TRIGGER IF NOT EXISTS instance_counts AFTER INSERT ON instances BEGIN
    UPDATE series SET num_instances = num_instances + 1 WHERE pk = NEW.series_pk;
    UPDATE studies SET num_instances = num_instances + 1
        WHERE pk = (SELECT study_pk FROM series WHERE pk = NEW.series_pk);
END;
CREATE INDEX IF NOT EXISTS series_modality ON series(modality);
-- Background jobs (model runs): see jobs.rs.
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    step TEXT,
    result TEXT,
    error TEXT,
    log TEXT NOT NULL DEFAULT '',
    trigger_ TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
-- When each series last received a new instance, until a rule checker takes it.
CREATE TABLE IF NOT EXISTS series_arrivals (
    series_pk INTEGER PRIMARY KEY,
    last_arrival TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS series_arrivals_time ON series_arrivals(last_arrival);
CREATE TRIGGER IF NOT EXISTS series_arrival AFTER INSERT ON instances BEGIN
    INSERT INTO series_arrivals (series_pk, last_arrival) VALUES (NEW.series_pk, NEW.received_at)
        ON CONFLICT(series_pk) DO UPDATE SET last_arrival = excluded.last_arrival;
END;
"#;

/// From version 1: the computed columns, filled from what is stored.
const MIGRATE_1_TO_2: &str = r#"
ALTER TABLE studies ADD COLUMN modalities TEXT;
ALTER TABLE studies ADD COLUMN num_series INTEGER NOT NULL DEFAULT 0;
ALTER TABLE studies ADD COLUMN num_instances INTEGER NOT NULL DEFAULT 0;
ALTER TABLE series ADD COLUMN num_instances INTEGER NOT NULL DEFAULT 0;
UPDATE series SET num_instances = (SELECT COUNT(*) FROM instances i WHERE i.series_pk = series.pk);
UPDATE studies SET
    num_series = (SELECT COUNT(*) FROM series s WHERE s.study_pk = studies.pk),
    num_instances = (SELECT COALESCE(SUM(num_instances), 0) FROM series s WHERE s.study_pk = studies.pk),
    modalities = (SELECT group_concat(m, '\') FROM (SELECT DISTINCT modality AS m FROM series s WHERE s.study_pk = studies.pk AND modality IS NOT NULL AND modality <> '' ORDER BY m));
"#;

/// `instances/ab/<sha256>.dcm`: one level of 256 folders. Two levels (65,536 folders) made
/// nearly every early write create and fsync two new folders.
fn object_path(sha256: &str) -> ObjectPath {
    ObjectPath::from(format!("instances/{}/{sha256}.dcm", &sha256[0..2]))
}

/// Indexes a parsed object inside the writer's transaction; returns the outcome and the hash of
/// a replaced file. On error the caller rolls back (to the savepoint taken before).
///
/// The common case (a new instance of a known series) is three statements: every statement is a
/// round trip to sqlx's SQLite worker thread, and the counters are kept by triggers.
async fn index_one(
    tx: &mut sqlx::SqliteConnection,
    on_conflict: ConflictPolicy,
    p: &parse::Parsed,
) -> Result<(IngestOutcome, Option<String>), StoreError> {
    let existing = sqlx::query("SELECT i.sha256, s.series_uid FROM instances i JOIN series s ON s.pk = i.series_pk WHERE i.sop_uid = ?")
        .bind(&p.sop_instance_uid)
        .fetch_optional(&mut *tx)
        .await?;
    let mut replaced = None;
    if let Some(row) = &existing {
        let sha: String = row.get(0);
        if sha == p.sha256 {
            return Ok((IngestOutcome::Duplicate, None));
        }
        let old_series: String = row.get(1);
        if old_series != p.series_instance_uid {
            return Err(StoreError::Hierarchy(format!(
                "instance {} belongs to series {old_series}, this object says series {}",
                p.sop_instance_uid, p.series_instance_uid
            )));
        }
        if on_conflict == ConflictPolicy::Reject {
            tracing::warn!(sop = %p.sop_instance_uid, "instance re-sent with different content: refused");
            return Err(StoreError::Conflict(p.sop_instance_uid.clone()));
        }
        tracing::warn!(sop = %p.sop_instance_uid, "instance re-sent with different content: replacing the stored one");
        replaced = Some(sha);
    }
    // The series with its study and patient, in one look-up.
    let known = sqlx::query("SELECT se.pk, st.study_uid, p.patient_id FROM series se JOIN studies st ON st.pk = se.study_pk JOIN patients p ON p.pk = st.patient_pk WHERE se.series_uid = ?")
        .bind(&p.series_instance_uid)
        .fetch_optional(&mut *tx)
        .await?;
    let series_pk: i64 = match known {
        Some(row) => {
            let (study, patient): (String, String) = (row.get(1), row.get(2));
            if study != p.study_instance_uid {
                return Err(StoreError::Hierarchy(format!(
                    "series {} belongs to study {study}, this object says study {}",
                    p.series_instance_uid, p.study_instance_uid
                )));
            }
            if patient != p.patient_id {
                return Err(StoreError::Hierarchy(format!(
                    "study {} belongs to patient '{patient}', this object says patient '{}'",
                    p.study_instance_uid, p.patient_id
                )));
            }
            row.get(0)
        }
        None => new_series(tx, p).await?,
    };
    sqlx::query("INSERT INTO instances (sop_uid, series_pk, sop_class_uid, instance_number, transfer_syntax, rows_, columns_, frames, size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sop_uid) DO UPDATE SET sop_class_uid = excluded.sop_class_uid, instance_number = excluded.instance_number, transfer_syntax = excluded.transfer_syntax, rows_ = excluded.rows_, columns_ = excluded.columns_, frames = excluded.frames, size = excluded.size, sha256 = excluded.sha256, received_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
        .bind(&p.sop_instance_uid)
        .bind(series_pk)
        .bind(&p.sop_class_uid)
        .bind(p.instance_number)
        .bind(&p.transfer_syntax)
        .bind(p.rows)
        .bind(p.columns)
        .bind(p.frames)
        .bind(p.size as i64)
        .bind(&p.sha256)
        .execute(&mut *tx)
        .await?;
    let outcome = if replaced.is_some() {
        IngestOutcome::Replaced
    } else {
        IngestOutcome::Stored
    };
    Ok((outcome, replaced))
}

/// The first instance of a series: its patient (by Patient ID; objects without one share the
/// empty ID), its study (created once; a study never changes patient), then the series.
async fn new_series(tx: &mut sqlx::SqliteConnection, p: &parse::Parsed) -> Result<i64, StoreError> {
    let patient_pk: i64 = sqlx::query_scalar("INSERT INTO patients (patient_id, patient_name, birth_date, sex) VALUES (?, ?, ?, ?) ON CONFLICT(patient_id) DO UPDATE SET patient_name = COALESCE(patient_name, excluded.patient_name), birth_date = COALESCE(birth_date, excluded.birth_date), sex = COALESCE(sex, excluded.sex) RETURNING pk")
        .bind(&p.patient_id)
        .bind(&p.patient_name)
        .bind(&p.patient_birth_date)
        .bind(&p.patient_sex)
        .fetch_one(&mut *tx)
        .await?;
    let study = sqlx::query("SELECT s.pk, p.patient_id FROM studies s JOIN patients p ON p.pk = s.patient_pk WHERE s.study_uid = ?")
        .bind(&p.study_instance_uid)
        .fetch_optional(&mut *tx)
        .await?;
    let study_pk: i64 = match study {
        Some(row) => {
            let owner: String = row.get(1);
            if owner != p.patient_id {
                return Err(StoreError::Hierarchy(format!(
                    "study {} belongs to patient '{owner}', this object says patient '{}'",
                    p.study_instance_uid, p.patient_id
                )));
            }
            row.get(0)
        }
        None => sqlx::query_scalar("INSERT INTO studies (study_uid, patient_pk, study_date, study_time, accession_number, study_id, description, referring_physician) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk")
            .bind(&p.study_instance_uid)
            .bind(patient_pk)
            .bind(&p.study_date)
            .bind(&p.study_time)
            .bind(&p.accession_number)
            .bind(&p.study_id)
            .bind(&p.study_description)
            .bind(&p.referring_physician)
            .fetch_one(&mut *tx)
            .await?,
    };
    Ok(sqlx::query_scalar("INSERT INTO series (series_uid, study_pk, modality, series_number, description, body_part) VALUES (?, ?, ?, ?, ?, ?) RETURNING pk")
        .bind(&p.series_instance_uid)
        .bind(study_pk)
        .bind(&p.modality)
        .bind(p.series_number)
        .bind(&p.series_description)
        .bind(&p.body_part)
        .fetch_one(&mut *tx)
        .await?)
}

/// One ingest waiting for the index.
#[derive(Debug)]
struct IndexJob {
    parsed: Arc<parse::Parsed>,
    reply: tokio::sync::oneshot::Sender<Result<(IngestOutcome, Option<String>), StoreError>>,
}

/// Most instances indexed in one transaction.
const MAX_BATCH: usize = 64;

/// The group-commit writer: takes every job waiting, indexes each under its own savepoint (a
/// failing instance leaves the others alone), commits once, then answers. Concurrent ingests
/// thus share one WAL fsync; a lone ingest commits alone, as before.
async fn index_writer(
    pool: SqlitePool,
    on_conflict: ConflictPolicy,
    write_lock: Arc<Mutex<()>>,
    mut jobs: tokio::sync::mpsc::Receiver<IndexJob>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let _guard = write_lock.lock().await;
        let results = index_batch(&pool, on_conflict, &batch).await;
        match results {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                // The transaction failed as a whole (commit error): nothing was indexed.
                let message = e.to_string();
                tracing::error!(error = %message, "index transaction failed");
                for job in batch {
                    let _ = job.reply.send(Err(StoreError::Internal(format!(
                        "index transaction failed: {message}"
                    ))));
                }
            }
        }
    }
}

type IndexResult = Result<(IngestOutcome, Option<String>), StoreError>;

async fn index_batch(
    pool: &SqlitePool,
    on_conflict: ConflictPolicy,
    batch: &[IndexJob],
) -> Result<Vec<IndexResult>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    if let [job] = batch {
        // Alone: no savepoint needed, a failure rolls the whole transaction back.
        let result = index_one(&mut tx, on_conflict, &job.parsed).await;
        if result.is_ok() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        results.push(result);
        return Ok(results);
    }
    for job in batch {
        sqlx::raw_sql("SAVEPOINT one").execute(&mut *tx).await?;
        let result = index_one(&mut tx, on_conflict, &job.parsed).await;
        if result.is_err() {
            sqlx::raw_sql("ROLLBACK TO one").execute(&mut *tx).await?;
        }
        sqlx::raw_sql("RELEASE one").execute(&mut *tx).await?;
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}

/// Takes the exclusive lock on `data_dir/voxide.lock`; the operating system releases it when the
/// process ends, however it ends.
fn lock_folder(data_dir: &Path) -> Result<std::fs::File, StoreError> {
    let path = data_dir.join("voxide.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy {
            path: data_dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
    }
}

/// Removes `object_store`'s staged upload files (`<name>#<digits>`) under `dir`. Only safe while
/// holding the folder lock: nobody else can be writing.
fn remove_staged_files(dir: &Path) -> Result<usize, StoreError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    let mut removed = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let path = entry.path();
            if entry.file_type().map_err(io(&path))?.is_dir() {
                pending.push(path);
                continue;
            }
            let staged = entry
                .file_name()
                .to_str()
                .and_then(|name| name.split_once('#'))
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if staged {
                std::fs::remove_file(&path).map_err(io(&path))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

fn sha_of(path: &ObjectPath) -> Option<String> {
    path.filename()?.strip_suffix(".dcm").map(str::to_string)
}

impl Store {
    /// Opens (creating if needed) the store in `config.data_dir`.
    pub async fn open(config: StoreConfig) -> Result<Self, StoreError> {
        let objects_dir = config.data_dir.join("objects");
        std::fs::create_dir_all(&objects_dir).map_err(|source| StoreError::Io {
            path: objects_dir.clone(),
            source,
        })?;
        let folder_lock = lock_folder(&config.data_dir)?;
        let partial_writes_removed = remove_staged_files(&objects_dir)?;
        if partial_writes_removed > 0 {
            tracing::warn!(
                count = partial_writes_removed,
                "removed staged files of interrupted writes"
            );
        }
        let options = SqliteConnectOptions::new()
            .filename(config.data_dir.join("index.sqlite"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match config.durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Relaxed => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&pool)
            .await?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Internal(format!(
                "index schema version {version} is newer than this voxide understands ({SCHEMA_VERSION}); upgrade voxide"
            )));
        }
        if version == 1 {
            let mut tx = pool.begin().await?;
            sqlx::raw_sql(MIGRATE_1_TO_2).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        sqlx::raw_sql(ledger::SCHEMA).execute(&pool).await?;
        sqlx::raw_sql(access::SCHEMA).execute(&pool).await?;
        sqlx::raw_sql("PRAGMA user_version = 5")
            .execute(&pool)
            .await?;
        let objects = LocalFileSystem::new_with_prefix(&objects_dir)?
            .with_fsync(config.durability == Durability::Full);
        let write_lock = Arc::new(Mutex::new(()));
        let audit = if config.audit {
            Some(ledger::AuditLog::open(&config.data_dir, pool.clone(), write_lock.clone()).await?)
        } else {
            None
        };
        let deidentified: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT study_uid FROM deidentified_studies")
                .fetch_all(&pool)
                .await?
                .into_iter()
                .collect();
        let (index_queue, jobs) = tokio::sync::mpsc::channel(256);
        tokio::spawn(index_writer(
            pool.clone(),
            config.on_conflict,
            write_lock.clone(),
            jobs,
        ));
        Ok(Self {
            pool,
            objects: Arc::new(objects),
            config,
            write_lock,
            index_queue,
            _folder_lock: folder_lock,
            partial_writes_removed,
            audit,
            collected: Default::default(),
            deidentified: std::sync::RwLock::new(deidentified),
        })
    }

    /// How many staged files of interrupted writes (a crash or kill while a file was being
    /// written) [`Store::open`] found and removed.
    pub fn partial_writes_removed(&self) -> usize {
        self.partial_writes_removed
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Stores one object (a DICOM Part 10 file or a bare dataset): the single ingest path.
    pub async fn ingest(&self, bytes: Vec<u8>) -> Result<Ingested, StoreError> {
        self.ingest_as(bytes, &Actor::local()).await
    }

    /// [`Store::ingest`] on behalf of `actor`: the audit ledger records the instance stored (or
    /// refused, and why) with its UIDs, content hash and keyed patient reference.
    pub async fn ingest_as(&self, bytes: Vec<u8>, actor: &Actor) -> Result<Ingested, StoreError> {
        self.ingest_checked(bytes, actor, false).await
    }

    /// [`Store::ingest_as`] for de-identified copies made here: the only way into a study
    /// recorded as one ([`Store::mark_deidentified`]), which other ingests are refused, so that
    /// what researchers see stays de-identified.
    pub async fn ingest_deidentified_copy(
        &self,
        bytes: Vec<u8>,
        actor: &Actor,
    ) -> Result<Ingested, StoreError> {
        self.ingest_checked(bytes, actor, true).await
    }

    async fn ingest_checked(
        &self,
        bytes: Vec<u8>,
        actor: &Actor,
        deidentified_copy: bool,
    ) -> Result<Ingested, StoreError> {
        let result = self.ingest_unaudited(bytes, deidentified_copy).await;
        if let Some(audit) = &self.audit {
            let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::InstanceStored);
            match &result {
                Ok((ingested, sha256, patient_id)) => {
                    entry.study_instance_uid = Some(ingested.study_instance_uid.clone());
                    entry.series_instance_uid = Some(ingested.series_instance_uid.clone());
                    entry.sop_instance_uid = Some(ingested.sop_instance_uid.clone());
                    entry.content_sha256 = Some(sha256.clone());
                    entry.patient = Some(audit.patient_ref(patient_id));
                    let outcome = match ingested.outcome {
                        IngestOutcome::Stored => "stored",
                        IngestOutcome::Duplicate => "duplicate",
                        IngestOutcome::Replaced => "replaced",
                    };
                    entry.details.insert("result".into(), outcome.into());
                }
                Err(e) => {
                    entry.outcome = AuditOutcome::Failure;
                    entry.reason = Some(e.to_string());
                }
            }
            self.record(audit, entry);
        }
        result.map(|(ingested, _, _)| ingested)
    }

    fn record(&self, audit: &ledger::AuditLog, mut entry: AuditEntry) {
        if entry.time.is_empty() {
            entry.time = voxide_dicom::now_rfc3339();
        }
        audit.record(&entry);
    }

    /// Records an audit entry (no-op when the ledger is off); the time is set here when empty.
    pub fn audit(&self, entry: AuditEntry) {
        if let Some(audit) = &self.audit {
            self.record(audit, entry);
        }
    }

    /// The secret key of de-identified exports (`<data_dir>/keys/deid.key`, created at first
    /// use, owner-only): the same key gives the same UIDs and pseudonyms in every export.
    pub fn deid_key(&self) -> Result<Vec<u8>, StoreError> {
        let dir = self.config.data_dir.join("keys");
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(load_or_create_secret(&dir.join(ledger::DEID_KEY_FILE))?.0)
    }

    /// Whether the audit ledger is on.
    pub fn audit_enabled(&self) -> bool {
        self.audit.is_some()
    }

    /// How a patient appears in the ledger: a keyed hash of the Patient ID (`None` when off).
    pub fn patient_ref(&self, patient_id: &str) -> Option<String> {
        self.audit.as_ref().map(|a| a.patient_ref(patient_id))
    }

    fn audit_log(&self) -> Result<&ledger::AuditLog, StoreError> {
        self.audit
            .as_ref()
            .ok_or_else(|| StoreError::Query("the audit ledger is off in this store".into()))
    }

    /// Waits until every entry recorded so far is committed; returns the committed size.
    pub async fn ledger_flush(&self) -> Result<u64, StoreError> {
        self.audit_log()?.flush().await
    }

    /// The latest signed checkpoint, signing a new one first when entries were committed since.
    pub async fn ledger_checkpoint(&self) -> Result<String, StoreError> {
        let audit = self.audit_log()?;
        let size = audit.flush().await?;
        if let Some((stored, note)) = ledger::latest_checkpoint(&self.pool).await? {
            if stored >= size {
                return Ok(note);
            }
        }
        let note = audit.sign(size)?;
        ledger::store_checkpoint(&self.pool, size, &note).await?;
        Ok(note)
    }

    /// The ledger's name, public key and committed size.
    pub fn ledger_info(&self) -> Result<(String, voxide_ledger::VerifierKey, u64), StoreError> {
        let audit = self.audit_log()?;
        Ok((audit.origin(), audit.verifier(), audit.committed()))
    }

    /// Committed entries `start..end` (at most 1000), as stored.
    pub async fn ledger_entries(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let size = self.audit_log()?.committed();
        let end = end.min(size).min(start.saturating_add(1000));
        let rows = sqlx::query(
            "SELECT idx, entry FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
        )
        .bind(start as i64)
        .bind(end as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<i64, _>(0) as u64, r.get::<Vec<u8>, _>(1)))
            .collect())
    }

    /// The ledger, when at least `size` entries are committed.
    fn audit_log_of_size(&self, size: u64) -> Result<&ledger::AuditLog, StoreError> {
        let audit = self.audit_log()?;
        if size > audit.committed() {
            return Err(StoreError::Query(format!(
                "the ledger has {} committed entries, not {size}",
                audit.committed()
            )));
        }
        Ok(audit)
    }

    /// The inclusion proof of entry `index` in the tree of `size` committed entries.
    pub fn ledger_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<voxide_ledger::Hash>, StoreError> {
        self.audit_log_of_size(size)?.inclusion_proof(index, size)
    }

    /// The consistency proof between the trees of `from` and `to` committed entries.
    pub fn ledger_consistency_proof(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<voxide_ledger::Hash>, StoreError> {
        self.audit_log_of_size(to)?.consistency_proof(from, to)
    }

    async fn ingest_unaudited(
        &self,
        bytes: Vec<u8>,
        deidentified_copy: bool,
    ) -> Result<(Ingested, String, String), StoreError> {
        let started = std::time::Instant::now();
        let mut parsed = tokio::task::spawn_blocking(move || parse::parse(bytes))
            .await
            .map_err(|e| StoreError::Internal(e.to_string()))??;
        if !deidentified_copy && self.deidentified_study(&parsed.study_instance_uid) {
            return Err(StoreError::Refused(format!(
                "study {} is a de-identified copy made here; only voxide's de-identification adds instances to it",
                parsed.study_instance_uid
            )));
        }
        let file = std::mem::take(&mut parsed.file);
        tracing::trace!(
            parse_us = started.elapsed().as_micros() as u64,
            "ingest parsed"
        );
        let path = object_path(&parsed.sha256);
        let size = file.len() as u64;
        // 1. The file, under its content hash. Already there: the same bytes.
        let put = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .objects
            .put_opts(&path, PutPayload::from(file), put)
            .await
        {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let written = started.elapsed();
        // 2. The index, in one transaction (shared with concurrent ingests: group commit).
        let parsed = Arc::new(parsed);
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.index_queue
            .send(IndexJob {
                parsed: parsed.clone(),
                reply,
            })
            .await
            .map_err(|_| StoreError::Internal("the index writer has stopped".into()))?;
        let result = answer
            .await
            .map_err(|_| StoreError::Internal("the index writer has stopped".into()))?;
        tracing::trace!(
            parse_and_write_us = written.as_micros() as u64,
            index_us = (started.elapsed() - written).as_micros() as u64,
            "ingest timing"
        );
        match result {
            Ok((outcome, replaced_sha)) => {
                if let Some(old) = replaced_sha {
                    self.remove_if_unreferenced(&old).await?;
                }
                let ingested = Ingested {
                    outcome,
                    study_instance_uid: parsed.study_instance_uid.clone(),
                    series_instance_uid: parsed.series_instance_uid.clone(),
                    sop_class_uid: parsed.sop_class_uid.clone(),
                    sop_instance_uid: parsed.sop_instance_uid.clone(),
                    bytes: size,
                };
                Ok((ingested, parsed.sha256.clone(), parsed.patient_id.clone()))
            }
            Err(e) => {
                // Nothing was indexed: the file written above must not stay behind.
                self.remove_if_unreferenced(&parsed.sha256).await?;
                Err(e)
            }
        }
    }

    async fn remove_if_unreferenced(&self, sha256: &str) -> Result<(), StoreError> {
        let _guard = self.write_lock.lock().await;
        let used: Option<i64> = sqlx::query_scalar("SELECT 1 FROM instances WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        if used.is_none() {
            match self.objects.delete(&object_path(sha256)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Counts of patients, studies, series, instances and stored bytes.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let row = sqlx::query("SELECT (SELECT COUNT(*) FROM patients), (SELECT COUNT(*) FROM studies), (SELECT COUNT(*) FROM series), (SELECT COUNT(*) FROM instances), (SELECT COALESCE(SUM(size), 0) FROM instances)")
            .fetch_one(&self.pool)
            .await?;
        let n = |i: usize| row.get::<i64, _>(i).max(0) as u64;
        Ok(Stats {
            patients: n(0),
            studies: n(1),
            series: n(2),
            instances: n(3),
            bytes: n(4),
        })
    }

    /// The stored instances of a study, optionally narrowed to a series and an instance, in
    /// series then instance order (Instance Number, then arrival).
    pub async fn instances(
        &self,
        study_instance_uid: &str,
        series_instance_uid: Option<&str>,
        sop_instance_uid: Option<&str>,
    ) -> Result<Vec<InstanceRef>, StoreError> {
        let rows = sqlx::query("SELECT st.study_uid, se.series_uid, i.sop_uid, i.sop_class_uid, i.transfer_syntax, i.size, i.sha256, i.frames FROM instances i JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk WHERE st.study_uid = ?1 AND (?2 IS NULL OR se.series_uid = ?2) AND (?3 IS NULL OR i.sop_uid = ?3) ORDER BY se.series_number, se.pk, i.instance_number, i.pk")
            .bind(study_instance_uid)
            .bind(series_instance_uid)
            .bind(sop_instance_uid)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| InstanceRef {
                study_instance_uid: r.get(0),
                series_instance_uid: r.get(1),
                sop_instance_uid: r.get(2),
                sop_class_uid: r.get(3),
                transfer_syntax: r.get(4),
                size: r.get::<i64, _>(5).max(0) as u64,
                sha256: r.get(6),
                frames: r.get::<Option<i64>, _>(7),
            })
            .collect())
    }

    /// Finds one instance by its SOP Instance UID alone (WADO-URI, C-MOVE at image level).
    pub async fn instance(
        &self,
        sop_instance_uid: &str,
    ) -> Result<Option<InstanceRef>, StoreError> {
        let study: Option<String> = sqlx::query_scalar("SELECT st.study_uid FROM instances i JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk WHERE i.sop_uid = ?")
            .bind(sop_instance_uid)
            .fetch_optional(&self.pool)
            .await?;
        match study {
            None => Ok(None),
            Some(study) => Ok(self
                .instances(&study, None, Some(sop_instance_uid))
                .await?
                .into_iter()
                .next()),
        }
    }

    /// The stored file of an instance found by [`Store::instances`].
    pub async fn read(&self, instance: &InstanceRef) -> Result<bytes::Bytes, StoreError> {
        Ok(self
            .objects
            .get(&object_path(&instance.sha256))
            .await?
            .bytes()
            .await?)
    }

    /// The stored file of an instance, `None` when the instance is unknown.
    pub async fn read_instance(
        &self,
        sop_instance_uid: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sha: Option<String> =
            sqlx::query_scalar("SELECT sha256 FROM instances WHERE sop_uid = ?")
                .bind(sop_instance_uid)
                .fetch_optional(&self.pool)
                .await?;
        match sha {
            None => Ok(None),
            Some(sha) => {
                let bytes = self.objects.get(&object_path(&sha)).await?.bytes().await?;
                Ok(Some(bytes.to_vec()))
            }
        }
    }

    /// Verifies that index and files agree: every instance has its file (of the indexed size,
    /// and with `deep` the indexed content hash), and every file belongs to an instance.
    /// With `repair`, files that no instance references are removed.
    pub async fn check(&self, deep: bool, repair: bool) -> Result<CheckReport, StoreError> {
        let _guard = self.write_lock.lock().await;
        let rows = sqlx::query("SELECT sop_uid, sha256, size FROM instances")
            .fetch_all(&self.pool)
            .await?;
        let mut report = CheckReport {
            instances: rows.len() as u64,
            ..Default::default()
        };
        let mut files: std::collections::HashMap<String, u64> = self
            .objects
            .list(Some(&ObjectPath::from("instances")))
            .map_ok(|meta| (meta.location, meta.size))
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .filter_map(|(path, size)| sha_of(&path).map(|sha| (sha, size)))
            .collect();
        for row in &rows {
            let (sop, sha, size): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
            match files.remove(&sha) {
                None => report.missing.push(sop),
                Some(actual) if actual != size as u64 => report.corrupt.push(sop),
                Some(_) if deep => {
                    use sha2::Digest;
                    let bytes = self.objects.get(&object_path(&sha)).await?.bytes().await?;
                    if hex::encode(sha2::Sha256::digest(&bytes)) != sha {
                        report.corrupt.push(sop);
                    }
                }
                Some(_) => {}
            }
        }
        report.orphans = files.into_keys().collect();
        report.orphans.sort();
        if repair {
            for sha in &report.orphans {
                self.objects.delete(&object_path(sha)).await?;
                report.removed += 1;
            }
        }
        Ok(report)
    }
}
