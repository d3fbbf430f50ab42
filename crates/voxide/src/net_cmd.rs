//! `voxide serve`, `voxide send` and `voxide echo`: the server and the DICOM client commands.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use voxide_server::scu::{self, Outgoing, Sender, Target};
use voxide_server::ServerConfig;

use crate::progress_bar;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Flags of `voxide serve` that override the configuration file.
#[derive(Debug, Default)]
pub struct ServeOverrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub http: Option<SocketAddr>,
    pub dicom_port: Option<u16>,
    pub ae_title: Option<String>,
    pub print_config: bool,
}

pub fn serve(o: ServeOverrides) -> Result<()> {
    let mut config = match &o.config {
        Some(path) => ServerConfig::from_file(path)?,
        None => ServerConfig::default(),
    };
    if let Some(d) = o.data_dir {
        config.data_dir = d;
    }
    if let Some(h) = o.http {
        config.http = h;
    }
    if let Some(p) = o.dicom_port {
        config.dicom.set_port(p);
    }
    if let Some(ae) = o.ae_title {
        config.ae_title = ae;
    }
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    if o.print_config {
        print!("{}", config.to_toml());
        return Ok(());
    }
    let runtime = runtime()?;
    let result = runtime.block_on(async move {
        voxide_server::run(config, shutdown_signal())
            .await
            .context("the server stopped with an error")
    });
    // A model run still inferring on a blocking thread is not waited for: its job stays
    // `running` in the index and is queued again at the next start.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

pub fn echo(target: &Target, calling: &str) -> Result<()> {
    let rtt = runtime()?.block_on(scu::echo(calling, target))?;
    println!(
        "C-ECHO {target}: success ({:.1} ms)",
        rtt.as_secs_f64() * 1e3
    );
    Ok(())
}

pub fn send(path: &Path, target: &Target, calling: &str) -> Result<()> {
    let files = if path.is_dir() {
        voxide_dicom::list_files(path)?
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        bail!("{}: no such file or folder", path.display());
    };
    let mut objects = Vec::new();
    let mut skipped = 0usize;
    for f in &files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        match Outgoing::from_file(bytes.into()) {
            Ok(o) => objects.push(o),
            Err(e) => {
                skipped += 1;
                eprintln!("skipped {}: {e}", f.display());
            }
        }
    }
    if objects.is_empty() {
        bail!("{}: no DICOM objects to send", path.display());
    }
    let bar = progress_bar("sending");
    bar.set_length(objects.len() as u64);
    let (sent, failed) = runtime()?.block_on(async {
        let refs: Vec<&Outgoing> = objects.iter().collect();
        let mut sender = Sender::open(calling, target, &refs).await?;
        let (mut sent, mut failed) = (0usize, 0usize);
        for o in &objects {
            let r = sender.store(o).await?;
            if r.is_success() {
                sent += 1;
            } else {
                failed += 1;
                bar.suspend(|| {
                    eprintln!(
                        "{}: status 0x{:04X} {}",
                        r.sop_instance_uid,
                        r.status,
                        r.comment.as_deref().unwrap_or("")
                    )
                });
            }
            bar.inc(1);
        }
        sender.release().await?;
        anyhow::Ok((sent, failed))
    })?;
    bar.finish_and_clear();
    println!(
        "sent {sent} instances to {target}, {failed} refused, {skipped} files skipped (not DICOM)"
    );
    if failed > 0 {
        bail!("{failed} instances were refused by {target}");
    }
    Ok(())
}
