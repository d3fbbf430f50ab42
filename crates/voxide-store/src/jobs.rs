//! Background jobs and series arrivals, kept in the index so that they survive a restart.
//!
//! A job is a row: its kind and parameters (JSON text, the caller's to define), its state
//! (`queued` → `running` → `succeeded` / `failed`, or `canceled` from queued or running),
//! progress, the current step, a log, and the result or error. Runners [`Store::claim_job`] the oldest queued
//! job atomically; a job found `running` when the server starts was interrupted by a stop or a
//! crash and is queued again ([`Store::requeue_interrupted_jobs`]).
//!
//! Series arrivals: every new instance stamps its series in `series_arrivals` (an index
//! trigger, in the ingest transaction). A series whose last instance arrived longer ago than
//! the caller's stable age is complete as far as anyone can tell (Orthanc's "stable series");
//! [`Store::stable_series`] lists those, and [`Store::take_arrival`] removes one and queues the
//! jobs its rules ask for in one transaction, so a crash neither loses nor doubles a trigger.

use sqlx::Row;

use crate::{InstanceRef, Store, StoreError};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl JobState {
    /// The state's name as stored and shown (`queued`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// True for states a job never leaves.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
}

impl std::str::FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "canceled" => Self::Canceled,
            other => {
                return Err(format!(
                "unknown job state '{other}': use queued, running, succeeded, failed or canceled"
            ))
            }
        })
    }
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// What runs it (`model-run`).
    pub kind: String,
    /// Its parameters, JSON text.
    pub params: String,
    /// Who asked: `api`, `rule:<name>`, ...
    pub trigger: String,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub params: String,
    pub state: JobState,
    /// 0 to 1.
    pub progress: f64,
    /// What it is doing now (or did last).
    pub step: Option<String>,
    /// JSON text, once succeeded.
    pub result: Option<String>,
    pub error: Option<String>,
    /// Time-stamped lines.
    pub log: String,
    pub trigger: String,
    /// How many times a runner started it (more than 1 after interruptions).
    pub attempts: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A series whose instances stopped arriving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesArrival {
    pub series: SeriesSummary,
    /// When its last instance arrived (UTC, ISO 8601).
    pub last_arrival: String,
    series_pk: i64,
}

/// What the index knows of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSummary {
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub modality: Option<String>,
    pub body_part: Option<String>,
    pub series_description: Option<String>,
    pub instances: i64,
}

/// The current UTC time as SQLite writes it (`received_at` has the same form).
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
const JOB_COLUMNS: &str = "id, kind, params, state, progress, step, result, error, log, trigger_, attempts, created_at, started_at, finished_at";

fn job_of(r: &sqlx::sqlite::SqliteRow) -> Result<Job, StoreError> {
    let state: String = r.get(3);
    Ok(Job {
        id: r.get(0),
        kind: r.get(1),
        params: r.get(2),
        state: state.parse().map_err(StoreError::Internal)?,
        progress: r.get(4),
        step: r.get(5),
        result: r.get(6),
        error: r.get(7),
        log: r.get(8),
        trigger: r.get(9),
        attempts: r.get(10),
        created_at: r.get(11),
        started_at: r.get(12),
        finished_at: r.get(13),
    })
}

/// A [`SeriesSummary`] from the first six columns: study and series UID, modality, body
/// part, description, number of instances.
fn summary_of(r: &sqlx::sqlite::SqliteRow) -> SeriesSummary {
    SeriesSummary {
        study_instance_uid: r.get(0),
        series_instance_uid: r.get(1),
        modality: r.get(2),
        body_part: r.get(3),
        series_description: r.get(4),
        instances: r.get(5),
    }
}

/// Queues `job` on `conn` (a pool connection or a transaction).
async fn insert_job(conn: &mut sqlx::SqliteConnection, job: &NewJob) -> Result<Job, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO jobs (kind, params, state, trigger_, log) VALUES (?, ?, 'queued', ?, {NOW} || ' queued by ' || ? || char(10)) RETURNING {JOB_COLUMNS}"
    )))
    .bind(&job.kind)
    .bind(&job.params)
    .bind(&job.trigger)
    .bind(&job.trigger)
    .fetch_one(conn)
    .await?;
    job_of(&row)
}

fn log_line(text: &str) -> String {
    // One line per entry: a multi-line error stays readable but cannot fake a time stamp.
    text.replace('\n', " | ")
}

impl Store {
    /// Queues a job.
    pub async fn enqueue_job(&self, job: &NewJob) -> Result<Job, StoreError> {
        let _guard = self.write_lock.lock().await;
        let mut conn = self.pool.acquire().await?;
        insert_job(&mut conn, job).await
    }

    /// Takes the oldest queued job of one of `kinds` and marks it running; `None` when there is
    /// none.
    pub async fn claim_job(&self, kinds: &[&str]) -> Result<Option<Job>, StoreError> {
        let _guard = self.write_lock.lock().await;
        let placeholders = vec!["?"; kinds.len().max(1)].join(", ");
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = {NOW}, step = 'started', \
             log = log || {NOW} || ' started (attempt ' || (attempts + 1) || ')' || char(10) \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND kind IN ({placeholders}) ORDER BY id LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        );
        // Only constants and `?` placeholders are interpolated.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if kinds.is_empty() {
            q = q.bind("");
        }
        for k in kinds {
            q = q.bind(*k);
        }
        q.fetch_optional(&self.pool)
            .await?
            .map(|r| job_of(&r))
            .transpose()
    }

    /// Records a running job's progress (0 to 1) and current step.
    pub async fn job_progress(&self, id: i64, progress: f64, step: &str) -> Result<(), StoreError> {
        let _guard = self.write_lock.lock().await;
        sqlx::query("UPDATE jobs SET progress = ?, step = ? WHERE id = ? AND state = 'running'")
            .bind(progress.clamp(0.0, 1.0))
            .bind(step)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends a time-stamped line to a job's log.
    pub async fn job_log(&self, id: i64, line: &str) -> Result<(), StoreError> {
        let _guard = self.write_lock.lock().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET log = log || {NOW} || ' ' || ? || char(10) WHERE id = ?"
        )))
        .bind(log_line(line))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a running job: `Ok(result JSON)` or `Err(error)`. A job that is no longer running
    /// (canceled meanwhile) keeps its state.
    pub async fn finish_job(&self, id: i64, outcome: Result<&str, &str>) -> Result<(), StoreError> {
        let _guard = self.write_lock.lock().await;
        let (state, result, error, line) = match outcome {
            Ok(result) => ("succeeded", Some(result), None, "succeeded".to_string()),
            Err(error) => (
                "failed",
                None,
                Some(error),
                format!("failed: {}", log_line(error)),
            ),
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = {NOW}, \
             progress = CASE WHEN ? = 'succeeded' THEN 1.0 ELSE progress END, \
             log = log || {NOW} || ' ' || ? || char(10) WHERE id = ? AND state = 'running'"
        )))
        .bind(state)
        .bind(result)
        .bind(error)
        .bind(state)
        .bind(line)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Cancels a queued or running job. Returns the job as it is afterwards (`None`: no such
    /// job); a finished job is left as it is (the caller tells the user). A running job is
    /// marked canceled at once; its runner sees the state change, stops the work at its next
    /// step and stores nothing ([`Store::finish_job`] leaves a canceled job alone).
    pub async fn cancel_job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        {
            let _guard = self.write_lock.lock().await;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET state = 'canceled', finished_at = {NOW}, \
                 log = log || {NOW} || CASE WHEN state = 'running' \
                     THEN ' canceled while running (at ' || CAST(ROUND(progress * 100) AS INTEGER) || '%, step: ' || COALESCE(step, '') || ')' \
                     ELSE ' canceled' END || char(10) \
                 WHERE id = ? AND state IN ('queued', 'running')"
            )))
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        self.job(id).await
    }

    /// One job.
    pub async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| job_of(&r))
        .transpose()
    }

    /// Jobs, newest first, optionally of one state; at most `limit`.
    pub async fn jobs(&self, state: Option<JobState>, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
        )))
        .bind(state.map(JobState::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_of).collect()
    }

    /// Jobs found running (their runner was stopped or crashed) are queued again, unless they
    /// have been started `max_attempts` times already: those fail, so a job that crashes the
    /// server cannot do so forever. Returns (requeued, failed).
    pub async fn requeue_interrupted_jobs(
        &self,
        max_attempts: i64,
    ) -> Result<(u64, u64), StoreError> {
        let _guard = self.write_lock.lock().await;
        let failed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'failed', finished_at = {NOW}, \
             error = 'interrupted ' || attempts || ' times (server stopped or crashed while it ran); not retried', \
             log = log || {NOW} || ' interrupted; attempts exhausted' || char(10) \
             WHERE state = 'running' AND attempts >= ?"
        )))
        .bind(max_attempts)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let requeued = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'queued', progress = 0, step = NULL, \
             log = log || {NOW} || ' interrupted (server stopped or crashed); queued again' || char(10) \
             WHERE state = 'running'"
        )))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok((requeued, failed))
    }

    /// Series whose last instance arrived at least `stable_for` ago and that no caller has
    /// taken yet, oldest first, at most `limit`.
    pub async fn stable_series(
        &self,
        stable_for: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<SeriesArrival>, StoreError> {
        let modifier = format!("-{:.3} seconds", stable_for.as_secs_f64());
        let rows = sqlx::query(
            "SELECT st.study_uid, se.series_uid, se.modality, se.body_part, se.description, se.num_instances, a.last_arrival, a.series_pk \
             FROM series_arrivals a JOIN series se ON se.pk = a.series_pk JOIN studies st ON st.pk = se.study_pk \
             WHERE a.last_arrival <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?) ORDER BY a.last_arrival LIMIT ?",
        )
        .bind(modifier)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SeriesArrival {
                series: summary_of(&r),
                last_arrival: r.get(6),
                series_pk: r.get(7),
            })
            .collect())
    }

    /// Marks `arrival` handled and queues `jobs` for it, in one transaction. If another
    /// instance of the series arrived since it was listed, nothing happens (the series is not
    /// stable after all) and an empty list is returned.
    pub async fn take_arrival(
        &self,
        arrival: &SeriesArrival,
        jobs: &[NewJob],
    ) -> Result<Vec<Job>, StoreError> {
        let _guard = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let taken =
            sqlx::query("DELETE FROM series_arrivals WHERE series_pk = ? AND last_arrival = ?")
                .bind(arrival.series_pk)
                .bind(&arrival.last_arrival)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        let mut queued = Vec::new();
        if taken == 1 {
            for job in jobs {
                queued.push(insert_job(&mut tx, job).await?);
            }
        }
        tx.commit().await?;
        Ok(queued)
    }

    /// What the index knows of one series; `None` when it is not stored.
    pub async fn series_summary(
        &self,
        series_instance_uid: &str,
    ) -> Result<Option<SeriesSummary>, StoreError> {
        let row = sqlx::query(
            "SELECT st.study_uid, se.series_uid, se.modality, se.body_part, se.description, se.num_instances \
             FROM series se JOIN studies st ON st.pk = se.study_pk WHERE se.series_uid = ?",
        )
        .bind(series_instance_uid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(summary_of))
    }

    /// The stored instances of one series (empty when it is not stored).
    pub async fn series_instances(
        &self,
        series_instance_uid: &str,
    ) -> Result<Vec<InstanceRef>, StoreError> {
        match self.series_summary(series_instance_uid).await? {
            None => Ok(Vec::new()),
            Some(s) => {
                self.instances(&s.study_instance_uid, Some(series_instance_uid), None)
                    .await
            }
        }
    }
}
