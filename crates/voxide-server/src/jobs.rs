//! Model runs as background jobs: runners that take queued runs from the store, and the
//! arrival-rule checker that queues runs for complete series.
//!
//! A run reads its series from the store into a scratch folder (`<data_dir>/work/job-<id>`),
//! assembles it, runs the model ([`voxide_ai::run`]) on a blocking thread, and stores the DICOM
//! SEG and SR back through [`voxide_store::Store::ingest`], the single ingest path. Progress is
//! kept in memory while the network runs and written to the job row once a second. A job
//! interrupted by a stop or crash is found `running` at the next start and queued again
//! ([`voxide_store::Store::requeue_interrupted_jobs`]).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use voxide_store::{
    Actor, AuditAction, AuditEntry, AuditOutcome, Job, JobState, NewJob, SeriesArrival,
    SeriesSummary,
};

use crate::AppState;

/// The kind of a model-run job.
pub(crate) const MODEL_RUN: &str = "model-run";

/// Modalities of objects that are results or documents, never images a model runs on; series
/// of these never trigger rules (a run's own SEG and SR would otherwise trigger further runs).
const RESULT_MODALITIES: &[&str] = &[
    "SEG", "SR", "RTSTRUCT", "RTPLAN", "PR", "KO", "REG", "DOC", "PLAN",
];

/// What a model-run job is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ModelRunParams {
    pub model: String,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
}

/// The registry of models the server runs.
pub(crate) fn registry(state: &AppState) -> voxide_infer::registry::Registry {
    voxide_infer::registry::Registry::new(state.config.data_dir.join("models"))
}

/// The scratch folder of running jobs.
fn work_dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("work")
}

/// Queues a model run and wakes a runner.
pub(crate) async fn enqueue_run(
    state: &AppState,
    params: &ModelRunParams,
    trigger: &str,
) -> Result<Job, voxide_store::StoreError> {
    let job = state
        .store
        .enqueue_job(&NewJob {
            kind: MODEL_RUN.into(),
            params: serde_json::to_string(params).unwrap_or_default(),
            trigger: trigger.into(),
        })
        .await?;
    state.job_wakeup.notify_waiters();
    Ok(job)
}

/// Starts the runners and the rule checker; they stop when `stop` turns true. Jobs left
/// running by the previous server are queued again first.
pub(crate) async fn start(
    state: Arc<AppState>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, crate::ServerError> {
    let inference = &state.config.inference;
    let (requeued, failed) = state
        .store
        .requeue_interrupted_jobs(i64::from(inference.max_attempts))
        .await?;
    if requeued + failed > 0 {
        tracing::warn!(
            requeued,
            failed,
            "model runs interrupted by the last stop were queued again (or failed after too many attempts)"
        );
    }
    // Scratch files of interrupted runs: nothing else uses them.
    let work = work_dir(&state);
    if work.exists() {
        if let Err(e) = std::fs::remove_dir_all(&work) {
            tracing::warn!(folder = %work.display(), error = %e, "cannot clear the run scratch folder");
        }
    }
    if let Ok(models) = registry(&state).list() {
        for rule in &inference.rules {
            if !models.iter().any(|m| m.name == rule.model) {
                tracing::warn!(rule = %rule.name, model = %rule.model, "arrival rule names a model that is not registered; its runs will fail until `voxide model add` registers it");
            }
        }
    }
    let mut tasks = Vec::new();
    for runner in 0..inference.max_concurrent_runs {
        tasks.push(tokio::spawn(run_jobs(state.clone(), stop.clone(), runner)));
    }
    tasks.push(tokio::spawn(check_arrivals(state.clone(), stop)));
    Ok(tasks)
}

/// One runner: takes the oldest queued run, runs it, repeats; sleeps when the queue is empty.
async fn run_jobs(
    state: Arc<AppState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    runner: usize,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        // Register for a wake-up before looking, so an enqueue in between is not missed.
        let wakeup = state.job_wakeup.notified();
        match state.store.claim_job(&[MODEL_RUN]).await {
            Ok(Some(job)) => {
                tracing::info!(job = job.id, runner, "model run started");
                let id = job.id;
                let outcome = tokio::select! {
                    outcome = run_model(&state, &job) => outcome,
                    // Stopping: leave the job `running`; the next start queues it again.
                    _ = stop.wait_for(|s| *s) => return,
                };
                let finished = match &outcome {
                    Ok(result) => state.store.finish_job(id, Ok(&result.to_string())).await,
                    Err(e) => state.store.finish_job(id, Err(e)).await,
                };
                if let Err(e) = finished {
                    tracing::error!(job = id, error = %e, "cannot record the end of a model run");
                }
                match outcome {
                    Ok(_) => tracing::info!(job = id, "model run succeeded"),
                    Err(e) => tracing::warn!(job = id, error = %e, "model run failed"),
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = wakeup => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the job queue");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }
}

/// Progress of a run shared between the blocking inference thread and the job row.
#[derive(Debug, Default)]
struct Progress {
    /// `f64` bits of the fraction done.
    fraction: AtomicU64,
    step: Mutex<String>,
}

impl Progress {
    fn set(&self, fraction: f64, step: &str) {
        self.fraction.store(fraction.to_bits(), Ordering::Relaxed);
        if let Ok(mut s) = self.step.lock() {
            if s.as_str() != step {
                *s = step.to_string();
            }
        }
    }
    fn get(&self) -> (f64, String) {
        let step = self.step.lock().map(|s| s.clone()).unwrap_or_default();
        (f64::from_bits(self.fraction.load(Ordering::Relaxed)), step)
    }
}

/// Who a model run acts as on the audit ledger.
fn model_actor(params: Option<&ModelRunParams>) -> Actor {
    Actor {
        name: format!("model:{}", params.map_or("unknown", |p| p.model.as_str())),
        role: "service".into(),
    }
}

/// Runs one model-run job; the result JSON or an error for the user.
async fn run_model(state: &Arc<AppState>, job: &Job) -> Result<serde_json::Value, String> {
    let work = work_dir(state).join(format!("job-{}", job.id));
    let result = run_model_in(state, job, &work).await;
    // The run on the audit ledger: which model (name, version, weights), on which series, by
    // whom (the API or an arrival rule), and how it ended.
    let params: Option<ModelRunParams> = serde_json::from_str(&job.params).ok();
    let mut entry = AuditEntry::new(
        &model_actor(params.as_ref()).name,
        "service",
        AuditAction::AiRun,
    );
    entry.series_instance_uid = params.as_ref().map(|p| p.series_instance_uid.clone());
    entry.details.insert("job".into(), job.id.to_string());
    entry.details.insert("trigger".into(), job.trigger.clone());
    match &result {
        Ok(summary) => {
            entry.study_instance_uid = summary["input"]["study_instance_uid"]
                .as_str()
                .map(str::to_string);
            for key in ["version", "weights_sha256"] {
                if let Some(v) = summary["model"][key].as_str() {
                    entry.details.insert(format!("model_{key}"), v.to_string());
                }
            }
        }
        Err(why) => {
            entry.outcome = AuditOutcome::Failure;
            entry.reason = Some(why.clone());
        }
    }
    state.store.audit(entry);
    if work.exists() {
        if let Err(e) = tokio::fs::remove_dir_all(&work).await {
            tracing::warn!(folder = %work.display(), error = %e, "cannot remove a run's scratch folder");
        }
    }
    result
}

async fn run_model_in(
    state: &Arc<AppState>,
    job: &Job,
    work: &Path,
) -> Result<serde_json::Value, String> {
    let store = &state.store;
    let log = |line: String| async move {
        if let Err(e) = store.job_log(job.id, &line).await {
            tracing::warn!(job = job.id, error = %e, "cannot append to a job log");
        }
    };
    let params: ModelRunParams = serde_json::from_str(&job.params)
        .map_err(|e| format!("the job's parameters are not a model run: {e}"))?;
    let started = std::time::Instant::now();

    // The model: registered, intact (hash), for this kind of series.
    store
        .job_progress(job.id, 0.0, "loading model")
        .await
        .map_err(|e| e.to_string())?;
    let registry = registry(state);
    let name = params.model.clone();
    let model = tokio::task::spawn_blocking(move || registry.load(&name))
        .await
        .map_err(|e| format!("loading the model crashed: {e}"))?
        .map_err(|e| e.to_string())?;
    let manifest = model.manifest().clone();
    log(format!(
        "model {} {} (weights sha256 {})",
        manifest.name,
        manifest.version,
        &manifest.weights_sha256[..manifest.weights_sha256.len().min(12)]
    ))
    .await;
    let series = store
        .series_summary(&params.series_instance_uid)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "series {} is not stored (deleted since the run was queued?)",
                params.series_instance_uid
            )
        })?;
    voxide_ai::check_series(&manifest, &series_info(&series)).map_err(|e| e.to_string())?;

    // The series, from the store into the scratch folder.
    store
        .job_progress(job.id, 0.02, "reading series")
        .await
        .map_err(|e| e.to_string())?;
    let instances = store
        .series_instances(&params.series_instance_uid)
        .await
        .map_err(|e| e.to_string())?;
    tokio::fs::create_dir_all(work)
        .await
        .map_err(|e| format!("{}: {e}", work.display()))?;
    for (i, instance) in instances.iter().enumerate() {
        let bytes = store.read(instance).await.map_err(|e| e.to_string())?;
        let path = work.join(format!("{i:06}.dcm"));
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    log(format!(
        "series {} ({}, {} instances)",
        series.series_instance_uid,
        series.modality.as_deref().unwrap_or("no modality"),
        instances.len()
    ))
    .await;

    // Assembly and inference, off the async threads. A cancel request (the job's state turns
    // `canceled`, seen on the next tick) stops the network after the batch it is in.
    let progress = Arc::new(Progress::default());
    progress.set(0.05, "assembling series");
    let cancel = Arc::new(AtomicBool::new(false));
    let blocking = {
        let progress = progress.clone();
        let cancel = cancel.clone();
        let work = work.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<voxide_ai::RunResult, String> {
            let volume = voxide_dicom::read_series(&work, &Default::default())
                .map_err(|e| format!("assembling the series: {e}"))?;
            let warnings = volume.warnings.clone();
            let input = voxide_ai::RunInput::dicom(volume);
            progress.set(0.1, "inferring");
            let result = voxide_ai::run(&model, &input, &mut |done, total| {
                let fraction = done as f64 / total.max(1) as f64;
                progress.set(0.1 + 0.8 * fraction, "inferring");
                if cancel.load(Ordering::Relaxed) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .map_err(|e| e.to_string())?;
            if !warnings.is_empty() {
                tracing::warn!(warnings = ?warnings, "series assembled with warnings");
            }
            Ok(result)
        })
    };
    tokio::pin!(blocking);
    let mut last = (f64::NAN, String::new());
    let result = loop {
        tokio::select! {
            joined = &mut blocking => {
                break joined.map_err(|e| format!("the model run crashed: {e}"))??;
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if canceled(store, job.id).await {
                    cancel.store(true, Ordering::Relaxed);
                }
                let now = progress.get();
                if now != last {
                    let _ = store.job_progress(job.id, now.0, &now.1).await;
                    last = now;
                }
            }
        }
    };
    log(result.message.clone()).await;
    // Canceled after the network finished: its results are not stored either.
    if canceled(store, job.id).await {
        return Err("canceled".into());
    }

    // The results, back into the store.
    store
        .job_progress(job.id, 0.9, "storing results")
        .await
        .map_err(|e| e.to_string())?;
    let mut summary = result.summary;
    for (key, written) in [
        ("dicom_seg", result.seg.map(|s| s.bytes)),
        ("dicom_sr", result.sr.map(|s| s.bytes)),
    ] {
        let Some(bytes) = written else { continue };
        let actor = model_actor(Some(&params));
        let stored = store
            .ingest_as(bytes, &actor)
            .await
            .map_err(|e| format!("storing the {key}: {e}"))?;
        let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::AiResult);
        entry.study_instance_uid = Some(stored.study_instance_uid.clone());
        entry.series_instance_uid = Some(stored.series_instance_uid.clone());
        entry.sop_instance_uid = Some(stored.sop_instance_uid.clone());
        entry.details.insert("job".into(), job.id.to_string());
        entry.details.insert("kind".into(), key.into());
        entry
            .details
            .insert("source_series".into(), params.series_instance_uid.clone());
        store.audit(entry);
        log(format!(
            "stored {} {} in series {}",
            if key == "dicom_seg" { "SEG" } else { "SR" },
            stored.sop_instance_uid,
            stored.series_instance_uid
        ))
        .await;
        summary[key]["study_instance_uid"] = json!(stored.study_instance_uid);
        summary[key]["stored"] = json!(true);
    }
    summary["input"] = json!({
        "study_instance_uid": series.study_instance_uid,
        "series_instance_uid": series.series_instance_uid,
        "instances": instances.len(),
    });
    summary["seconds"]["total"] = json!(started.elapsed().as_secs_f64());
    Ok(summary)
}

/// Whether job `id` was canceled while it ran (a read error counts as not canceled: the run
/// goes on and the next check may succeed).
async fn canceled(store: &voxide_store::Store, id: i64) -> bool {
    matches!(
        store.job(id).await,
        Ok(Some(Job {
            state: JobState::Canceled,
            ..
        }))
    )
}

/// Every so often: queue the runs arrival rules ask for on series that became complete.
async fn check_arrivals(state: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let inference = &state.config.inference;
    let stable_age = Duration::from_secs_f64(inference.stable_age_seconds);
    let period = (stable_age / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let arrivals = match state.store.stable_series(stable_age, 100).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "cannot list arrived series");
                continue;
            }
        };
        for arrival in arrivals {
            let jobs = rule_jobs(&state, &arrival);
            match state.store.take_arrival(&arrival, &jobs).await {
                Ok(queued) if !queued.is_empty() => {
                    for job in &queued {
                        tracing::info!(job = job.id, trigger = %job.trigger, series = %arrival.series.series_instance_uid, "model run queued by an arrival rule");
                    }
                    state.job_wakeup.notify_waiters();
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "cannot queue the runs of an arrived series"),
            }
        }
    }
}

/// The runs the configured rules ask for on a complete series: those whose own filter and
/// whose model's manifest filter both match.
fn rule_jobs(state: &AppState, arrival: &SeriesArrival) -> Vec<NewJob> {
    let rules = &state.config.inference.rules;
    let series = &arrival.series;
    let is_result = series.modality.as_deref().is_some_and(|m| {
        RESULT_MODALITIES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(m.trim()))
    });
    if rules.is_empty() || is_result {
        return Vec::new();
    }
    let info = series_info(series);
    let models = registry(state).list().unwrap_or_default();
    let mut jobs = Vec::new();
    for rule in rules {
        if !rule.filter().matches(&info) {
            continue;
        }
        // A model that is not registered: queue anyway, so the failure is visible as a job.
        let model_accepts = models
            .iter()
            .find(|m| m.name == rule.model)
            .is_none_or(|m| voxide_ai::SeriesFilter::of_manifest(m).matches(&info));
        if !model_accepts {
            continue;
        }
        let params = ModelRunParams {
            model: rule.model.clone(),
            study_instance_uid: series.study_instance_uid.clone(),
            series_instance_uid: series.series_instance_uid.clone(),
        };
        jobs.push(NewJob {
            kind: MODEL_RUN.into(),
            params: serde_json::to_string(&params).unwrap_or_default(),
            trigger: format!("rule:{}", rule.name),
        });
    }
    jobs
}

/// What a stored series says about itself, for the model checks and arrival rules.
pub(crate) fn series_info(series: &SeriesSummary) -> voxide_ai::SeriesInfo {
    voxide_ai::SeriesInfo {
        modality: series.modality.clone(),
        body_part: series.body_part.clone(),
        series_description: series.series_description.clone(),
    }
}

/// A job as the API shows it.
pub(crate) fn job_json(job: &Job) -> serde_json::Value {
    let parse = |text: &Option<String>| {
        text.as_deref()
            .map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap_or(json!(t)))
    };
    json!({
        "id": job.id,
        "kind": job.kind,
        "state": job.state.as_str(),
        "progress": job.progress,
        "step": job.step,
        "trigger": job.trigger,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "params": parse(&Some(job.params.clone())),
        "result": parse(&job.result),
        "error": job.error,
        "log": job.log.lines().collect::<Vec<_>>(),
    })
}
