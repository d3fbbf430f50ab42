//! `voxide import` and `voxide check`: the imaging store from the command line.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use voxide_store::{ConflictPolicy, IngestOutcome, Store, StoreConfig, StoreError};

use crate::progress_bar;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn open_store(data_dir: PathBuf, on_conflict: ConflictPolicy) -> Result<Store> {
    let shown = data_dir.display().to_string();
    Store::open(StoreConfig {
        data_dir,
        on_conflict,
        durability: Default::default(),
        audit: true,
    })
    .await
    .with_context(|| format!("cannot open the store in {shown}"))
    .inspect(|store| {
        let n = store.partial_writes_removed();
        if n > 0 {
            eprintln!("removed {n} staged file(s) left by an interrupted write");
        }
    })
}

/// One object to import: where it comes from, and its bytes (read lazily for files).
enum Source {
    File(PathBuf),
    ZipEntry(String, Vec<u8>),
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::ZipEntry(name, _) => name.clone(),
        }
    }
}

fn sources(path: &Path) -> Result<Vec<Source>> {
    let is_zip = path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip {
        return Ok(voxide_dicom::list_files(path)?
            .into_iter()
            .map(Source::File)
            .collect());
    }
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{}: not a readable zip archive", path.display()))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .with_context(|| format!("{}: entry {i}", path.display()))?;
        if entry.is_dir() {
            continue;
        }
        let entry_name = entry
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| format!("entry {i}"));
        let name = format!("{}!{entry_name}", path.display());
        let mut bytes = Vec::with_capacity(entry.size().min(1 << 30) as usize);
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("{name}: cannot extract"))?;
        out.push(Source::ZipEntry(name, bytes));
    }
    Ok(out)
}

pub fn import(
    path: &Path,
    data_dir: PathBuf,
    on_conflict: ConflictPolicy,
    jobs: usize,
) -> Result<()> {
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    let sources = sources(path)?;
    runtime()?.block_on(async move {
        let store = open_store(data_dir, on_conflict).await?;
        let bar = progress_bar("importing");
        bar.set_length(sources.len() as u64);
        let store = &store;
        let mut results = futures::stream::iter(sources)
            .map(|source| async move {
                let name = source.name();
                let bytes = match source {
                    Source::File(p) => tokio::fs::read(&p).await.map_err(|e| StoreError::Io { path: p, source: e }),
                    Source::ZipEntry(_, b) => Ok(b),
                };
                let result = match bytes {
                    Ok(b) => store.ingest(b).await,
                    Err(e) => Err(e),
                };
                (name, result)
            })
            .buffer_unordered(jobs.max(1));
        let (mut stored, mut duplicates, mut replaced, mut skipped) = (0u64, 0u64, 0u64, 0u64);
        let mut failed: Vec<(String, StoreError)> = Vec::new();
        while let Some((name, result)) = results.next().await {
            bar.inc(1);
            match result {
                Ok(r) => match r.outcome {
                    IngestOutcome::Stored => stored += 1,
                    IngestOutcome::Duplicate => duplicates += 1,
                    IngestOutcome::Replaced => replaced += 1,
                },
                // Files that are not DICOM at all (READMEs, NIfTI files) are skipped, not failures.
                Err(StoreError::Invalid(why)) if why.contains("not a DICOM file") => skipped += 1,
                Err(e) => failed.push((name, e)),
            }
        }
        bar.finish_and_clear();
        // What was recorded on the audit ledger is vouched for by a signed checkpoint.
        store
            .ledger_checkpoint()
            .await
            .context("cannot sign the audit ledger's checkpoint")?;
        for (name, e) in failed.iter().take(50) {
            eprintln!("refused {name}: {e}");
        }
        let stats = store.stats().await?;
        println!(
            "imported: {stored} stored, {duplicates} already stored, {replaced} replaced, {} refused, {skipped} not DICOM",
            failed.len()
        );
        println!(
            "store:    {} patients, {} studies, {} series, {} instances, {} bytes",
            stats.patients, stats.studies, stats.series, stats.instances, stats.bytes
        );
        if !failed.is_empty() {
            bail!("{} objects were refused (listed above); nothing partial was stored", failed.len());
        }
        Ok(())
    })
}

/// `voxide ledger verify`: recomputes the audit ledger of a data folder from its stored entries
/// and checks every signed checkpoint against them.
pub fn ledger_verify(data_dir: &Path, pinned_key: Option<&str>) -> Result<()> {
    runtime()?.block_on(async move {
        let stored = voxide_store::read_ledger(data_dir)
            .await
            .with_context(|| format!("cannot read the audit ledger of {}", data_dir.display()))?;
        println!("ledger:   {}", stored.origin);
        println!(
            "key:      {} (from {})",
            stored.verifier,
            stored.verifier_path.display()
        );
        if let Some(pinned) = pinned_key {
            let pinned = voxide_ledger::VerifierKey::parse(pinned.trim())
                .context("--key is not a verifier key (NAME+HASH+BASE64)")?;
            if pinned.to_string() != stored.verifier.to_string() {
                bail!(
                    "the data folder's ledger key is not the key you pinned: the keys folder was \
                     replaced, and nothing the ledger says can be trusted"
                );
            }
        }
        for (expected, (index, _)) in stored.entries.iter().enumerate() {
            if *index != expected as i64 {
                bail!(
                    "entry {expected} is missing (the next stored entry is {index}): entries were \
                     removed from the index"
                );
            }
        }
        let checkpoints: Vec<&str> = stored.checkpoints.iter().map(String::as_str).collect();
        let report = voxide_ledger::verify(
            &stored.origin,
            &stored.verifier,
            stored.entries.iter().map(|(_, bytes)| bytes.as_slice()),
            &checkpoints,
        )
        .context("the audit ledger does not verify")?;
        println!(
            "verified: {} entries, {} signed checkpoints; entries 0..{} are vouched for by the \
             last checkpoint{}",
            report.entries,
            report.checkpoints,
            report.verified_size,
            if report.unsigned_tail > 0 {
                format!(
                    ", {} later entries are not signed yet (the server signs them within its \
                     checkpoint interval)",
                    report.unsigned_tail
                )
            } else {
                String::new()
            }
        );
        Ok(())
    })
}

pub fn check(data_dir: PathBuf, deep: bool, repair: bool) -> Result<()> {
    if !data_dir.join("index.sqlite").is_file() {
        bail!(
            "{}: no voxide store here (no index.sqlite)",
            data_dir.display()
        );
    }
    runtime()?.block_on(async move {
        let store = open_store(data_dir, ConflictPolicy::Reject).await?;
        let report = store.check(deep, repair).await?;
        let stats = store.stats().await?;
        println!(
            "instances: {} indexed, {} missing files, {} corrupt files, {} orphan files{}",
            report.instances,
            report.missing.len(),
            report.corrupt.len(),
            report.orphans.len(),
            if repair {
                format!(" ({} removed)", report.removed)
            } else {
                String::new()
            }
        );
        println!(
            "store:     {} patients, {} studies, {} series, {} instances, {} bytes",
            stats.patients, stats.studies, stats.series, stats.instances, stats.bytes
        );
        for sop in report.missing.iter().take(20) {
            println!("missing file for instance {sop}");
        }
        for sop in report.corrupt.iter().take(20) {
            println!("corrupt file for instance {sop}");
        }
        for sha in report.orphans.iter().take(20) {
            println!("orphan file {sha}.dcm");
        }
        if !report.is_consistent() {
            bail!(
                "the store is inconsistent{}",
                if report.missing.is_empty() && report.corrupt.is_empty() {
                    "; run with --repair to remove orphan files"
                } else {
                    "; re-send the instances listed above"
                }
            );
        }
        println!("consistent");
        Ok(())
    })
}
