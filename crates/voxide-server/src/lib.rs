//! # voxide-server
//!
//! The server behind `voxide serve`: one process serving the imaging store
//! ([`voxide_store`]) over
//!
//! - **DICOMweb** (PS3.18) under `/dicom-web`: STOW-RS, QIDO-RS, WADO-RS (instances, metadata,
//!   frames, bulk data, rendered images, thumbnails), and WADO-URI at `/wado`;
//! - **DIMSE** (PS3.7): C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET service class providers on the
//!   DICOM port, through `dicom-ul` associations;
//! - voxide's JSON API under `/api`: registered models, model runs as persistent jobs
//!   (`POST /api/models/{name}/runs`, `GET /api/jobs/{id}`), arrival rules that queue runs
//!   when a matching series is complete (see `jobs`);
//! - `/healthz` and a Prometheus `/metrics` endpoint.
//!
//! Every way an instance arrives goes through [`voxide_store::Store::ingest`], the single ingest
//! path. Handlers are thin: protocol details without IO (multipart bodies, content negotiation,
//! QIDO parameters) live in [`voxide_dicomweb`], matching and storage in [`voxide_store`].
//!
//! [`run`] starts both listeners and returns when the shutdown future completes and in-flight
//! requests and associations have finished.

mod auth;
mod config;
mod dicomjson;
mod dimse;
mod http;
mod jobs;
mod metrics;
mod render;

use std::future::Future;
use std::sync::Arc;

pub use auth::{bootstrap_admin, issue_token, Authenticator};
pub use config::{
    ArrivalRule, AuthConfig, CorsConfig, DicomPeer, InferenceConfig, LedgerConfig, OidcConfig,
    RemoteAe, ServerConfig,
};
pub use dimse::scu;
pub use metrics::Metrics;
use voxide_store::{Store, StoreConfig, StoreError};

/// Errors that stop the server (or a client command).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("DICOM association: {0}")]
    Association(String),
    #[error("DICOM: {0}")]
    Dimse(String),
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub config: ServerConfig,
    pub metrics: Metrics,
    /// Wakes idle model-run runners when a run is queued.
    pub job_wakeup: tokio::sync::Notify,
    /// Checks credentials and DICOM peers.
    pub auth: Authenticator,
}

/// Validates the configuration and opens the store: the state every handler shares.
pub async fn open(config: ServerConfig) -> Result<Arc<AppState>, ServerError> {
    config.validate().map_err(ServerError::Config)?;
    let store = Store::open(StoreConfig {
        data_dir: config.data_dir.clone(),
        on_conflict: config.on_conflict.parse().map_err(ServerError::Config)?,
        durability: config.durability.parse().map_err(ServerError::Config)?,
        audit: config.ledger.enabled,
    })
    .await?;
    let stats = store.stats().await?;
    tracing::info!(
        data_dir = %config.data_dir.display(),
        instances = stats.instances,
        studies = stats.studies,
        "store opened"
    );
    let auth = Authenticator::new(&config.auth)?;
    Ok(Arc::new(AppState {
        store,
        config,
        metrics: Metrics::default(),
        job_wakeup: tokio::sync::Notify::new(),
        auth,
    }))
}

/// The HTTP application (DICOMweb, WADO-URI, health, metrics) over `state`, for [`run`] and for
/// tests that drive it in process.
pub fn app(state: Arc<AppState>) -> axum::Router {
    http::router(state)
}

/// Signs a ledger checkpoint every `checkpoint_interval_seconds` while entries arrive, and a
/// last one at shutdown, so that what was recorded is vouched for.
async fn sign_checkpoints(state: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let period =
        std::time::Duration::from_secs_f64(state.config.ledger.checkpoint_interval_seconds);
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(period) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        if let Err(e) = state.store.ledger_checkpoint().await {
            tracing::error!(error = %e, "cannot sign a ledger checkpoint");
        }
        if stopping {
            return;
        }
    }
}

/// Opens the store and serves HTTP and DICOM until `shutdown` completes; then stops accepting,
/// lets in-flight work finish, and returns.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = open(config).await?;
    if state.auth.enabled() {
        if let Some(token) = bootstrap_admin(&state.store).await? {
            // Printed once, never logged or stored: only its hash is kept.
            eprintln!(
                "\nA new data folder: created the account 'admin' with this API token (shown once; keep it safe):\n\n    {token}\n\nSend it as 'Authorization: Bearer <token>'. More accounts and tokens: voxide token --help\n"
            );
        }
    } else {
        tracing::warn!("authentication is off ([auth] enabled = false): anyone who can reach this server may read and change everything");
    }

    let http_listener = tokio::net::TcpListener::bind(state.config.http)
        .await
        .map_err(|source| ServerError::Io {
            what: format!("cannot listen for HTTP on {}", state.config.http),
            source,
        })?;
    tracing::info!(address = %http_listener.local_addr().map_or(state.config.http, |a| a), "DICOMweb at /dicom-web");
    let dicom_listener = if state.config.dicom.port() == 0 {
        None
    } else {
        let l = tokio::net::TcpListener::bind(state.config.dicom)
            .await
            .map_err(|source| ServerError::Io {
                what: format!("cannot listen for DICOM on {}", state.config.dicom),
                source,
            })?;
        tracing::info!(address = %state.config.dicom, ae_title = %state.config.ae_title, "DICOM listener");
        Some(l)
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests and associations");
        let _ = stop_tx.send(true);
    });

    let job_tasks = jobs::start(state.clone(), stop_rx.clone()).await?;
    let checkpoint_task = state
        .store
        .audit_enabled()
        .then(|| tokio::spawn(sign_checkpoints(state.clone(), stop_rx.clone())));
    let dimse_task = dicom_listener.map(|listener| {
        let state = state.clone();
        let stop = stop_rx.clone();
        tokio::spawn(dimse::serve(listener, state, stop))
    });
    let mut http_stop = stop_rx.clone();
    let app = http::router(state.clone());
    axum::serve(http_listener, app)
        .with_graceful_shutdown(async move {
            let _ = http_stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(|source| ServerError::Io {
            what: "HTTP server".into(),
            source,
        })?;
    if let Some(task) = dimse_task {
        task.await
            .map_err(|e| ServerError::Dimse(format!("DICOM listener task: {e}")))??;
    }
    for task in job_tasks {
        // Runners return at once on stop; a run in progress is left to be queued again.
        let _ = task.await;
    }
    if let Some(task) = checkpoint_task {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}
