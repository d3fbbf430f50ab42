//! `voxide deid`: de-identify DICOM files into a new folder (PS3.15 Annex E, `voxide-deid`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use voxide_deid::{Config, DeidKey, MaskRule, Options, PrivateTag, OPTION_NAMES};
use voxide_dicom::{tags, ReadDepth};

use crate::progress_bar;

#[derive(clap::Args, Debug)]
#[command(after_help = options_help())]
pub struct DeidArgs {
    /// A DICOM file or a folder of them (searched recursively).
    input: PathBuf,
    /// The output folder. Each instance is written as STUDY/SERIES/INSTANCE.dcm, named by its
    /// new UIDs (input file names may themselves identify the patient).
    output: PathBuf,
    /// The profile: `basic`, then any options, comma-separated (listed below), e.g.
    /// basic,retain-long-modified-dates,clean-descriptors.
    #[arg(long, default_value = "basic")]
    profile: String,
    /// The secret key file (hexadecimal). The same key gives the same UIDs, pseudonyms and date
    /// offsets in every run, so exports of one patient stay linked. Created with a new random
    /// key when the file does not exist.
    #[arg(long, default_value = "deid.key")]
    key_file: PathBuf,
    /// A private attribute kept under retain-safe-private, as GROUP,CREATOR,ELEMENT in
    /// hexadecimal, e.g. "0019,SIEMENS MR HEADER,0C" (repeatable).
    #[arg(long = "keep-private", value_name = "GROUP,CREATOR,ELEMENT")]
    keep_private: Vec<String>,
    /// A TOML file of burned-in annotation rules: `burned_in_manufacturers = [...]` flags a
    /// manufacturer's images; each `[[mask]]` (rows, columns, rects = [[x, y, w, h], ...],
    /// optional modality and manufacturer) blanks those rectangles in flagged images of that
    /// size.
    #[arg(long)]
    masks: Option<PathBuf>,
    /// Images flagged for burned-in annotation that no mask covers: skip them (the default:
    /// burned-in text may name the patient) or write them and list them.
    #[arg(long, value_enum, default_value = "skip")]
    burned_in: BurnedIn,
    /// Files processed at once (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BurnedIn {
    /// Leave flagged images out of the output.
    Skip,
    /// Write flagged images and list them.
    Write,
}

fn options_help() -> String {
    let mut text = String::from("Options of the profile (PS3.15 E.3):\n");
    for (name, meaning) in OPTION_NAMES {
        text.push_str(&format!("  {name:<32} {meaning}\n"));
    }
    text
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MaskFile {
    #[serde(default)]
    burned_in_manufacturers: Vec<String>,
    #[serde(default)]
    mask: Vec<MaskRule>,
}

/// Reads the key, or creates a new random one (readable by its owner only).
fn load_or_create_key(path: &Path) -> Result<DeidKey> {
    let (bytes, created) = voxide_store::load_or_create_secret(path)
        .with_context(|| format!("the key file {}", path.display()))?;
    if created {
        eprintln!(
            "created a new de-identification key in {}: keep it secret, and reuse it so that \
             later exports of the same patients stay linked",
            path.display()
        );
    }
    DeidKey::new(&bytes).with_context(|| format!("{}", path.display()))
}

fn config(args: &DeidArgs) -> Result<Config> {
    let options = Options::parse(&args.profile)?;
    let key = load_or_create_key(&args.key_file)?;
    let mut config = Config::new(options, key);
    for text in &args.keep_private {
        config.private_allow.push(PrivateTag::parse(text)?);
    }
    if !config.private_allow.is_empty() && !config.options.retain_safe_private {
        bail!("--keep-private needs the retain-safe-private option in --profile");
    }
    if let Some(path) = &args.masks {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: MaskFile =
            toml::from_str(&text).with_context(|| format!("{}: bad mask file", path.display()))?;
        config.masks = file.mask;
        config.burned_in_manufacturers = file.burned_in_manufacturers;
    }
    Ok(config)
}

enum FileResult {
    Written,
    /// Its copy is byte for byte one another input already wrote (same instance, differing
    /// only in what de-identification removed).
    Same,
    Flagged {
        reason: String,
        written: bool,
    },
    NotDicom,
    Failed(String),
}

pub fn deid(args: &DeidArgs) -> Result<()> {
    if !args.input.exists() {
        bail!("{}: no such file or folder", args.input.display());
    }
    let config = config(args)?;
    let files: Vec<PathBuf> = if args.input.is_dir() {
        walkdir::WalkDir::new(&args.input)
            .sort_by_file_name()
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect()
    } else {
        vec![args.input.clone()]
    };
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()?;
    let bar = progress_bar("de-identifying");
    bar.set_length(files.len() as u64);
    let results: Mutex<Vec<(PathBuf, FileResult)>> = Mutex::new(Vec::new());
    pool.install(|| {
        files.par_iter().for_each(|path| {
            let result = one_file(path, &args.output, &config, args.burned_in);
            bar.inc(1);
            results
                .lock()
                .expect("no panic while held")
                .push((path.clone(), result));
        });
    });
    bar.finish_and_clear();
    let mut results = results.into_inner().expect("no panic while held");
    results.sort_by(|a, b| a.0.cmp(&b.0));

    let (mut written, mut flagged_written, mut skipped, mut not_dicom) = (0, 0, 0, 0);
    let (mut failed, mut same) = (0, 0);
    for (path, result) in &results {
        match result {
            FileResult::Written => written += 1,
            FileResult::Same => same += 1,
            FileResult::Flagged { reason, written: w } => {
                if *w {
                    flagged_written += 1;
                    eprintln!(
                        "{}: written, may carry burned-in text: {reason}",
                        path.display()
                    );
                } else {
                    skipped += 1;
                    eprintln!(
                        "{}: skipped, may carry burned-in text: {reason} (add a mask with \
                         --masks, or --burned-in write)",
                        path.display()
                    );
                }
            }
            FileResult::NotDicom => not_dicom += 1,
            FileResult::Failed(why) => {
                failed += 1;
                eprintln!("{}: {why}", path.display());
            }
        }
    }
    println!(
        "de-identified {} file(s) into {} ({}); {same} identical to another input's copy, {} \
         flagged for burned-in text and skipped, {} not DICOM, {} failed",
        written + flagged_written,
        args.output.display(),
        config
            .options
            .method_codes()
            .iter()
            .map(|(_, m)| *m)
            .collect::<Vec<_>>()
            .join(", "),
        skipped,
        not_dicom,
        failed
    );
    if failed > 0 {
        bail!("{failed} file(s) could not be de-identified (reasons above); nothing was written for them");
    }
    Ok(())
}

/// One well-formed UID: digits and dots, at most 64 characters.
fn is_one_uid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn one_file(path: &Path, out_dir: &Path, config: &Config, burned_in: BurnedIn) -> FileResult {
    let obj = match voxide_dicom::open(path, ReadDepth::Full) {
        Ok(o) => o,
        Err(e)
            if e.to_string().contains("not a DICOM file")
                || e.to_string().contains("too short to be DICOM") =>
        {
            return FileResult::NotDicom
        }
        Err(e) => return FileResult::Failed(e.to_string()),
    };
    let outcome = match voxide_deid::deidentify(obj, config) {
        Ok(o) => o,
        Err(e) => return FileResult::Failed(e.to_string()),
    };
    let flagged = outcome.burned_in.clone().filter(|_| !outcome.masked);
    if flagged.is_some() && burned_in == BurnedIn::Skip {
        return FileResult::Flagged {
            reason: flagged.unwrap_or_default(),
            written: false,
        };
    }
    // Folder and file names from the new UIDs; anything that is not one UID (missing,
    // multi-valued, malformed) becomes "unknown" rather than a path.
    let uid = |tag| {
        outcome
            .object
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .filter(|s| is_one_uid(s))
            .unwrap_or_else(|| "unknown".into())
    };
    let dir = out_dir
        .join(uid(tags::STUDY_INSTANCE_UID))
        .join(uid(tags::SERIES_INSTANCE_UID));
    let target = dir.join(format!("{}.dcm", uid(tags::SOP_INSTANCE_UID)));
    let write = || -> Result<Option<Result<(), String>>> {
        std::fs::create_dir_all(&dir)?;
        static PART: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = PART.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let part = target.with_extension(format!("dcm.{}-{n}.part", std::process::id()));
        outcome.object.write_to_file(&part)?;
        // Linking never replaces: two inputs with one SOP Instance UID (a copy edited
        // elsewhere) must not silently overwrite each other.
        let linked = std::fs::hard_link(&part, &target);
        let result = match linked {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if std::fs::read(&part)? == std::fs::read(&target)? {
                    Ok(Some(Ok(())))
                } else {
                    Ok(Some(Err(format!(
                        "another input file has the same SOP Instance UID with other content; \
                         {} was kept and this file was not written",
                        target.display()
                    ))))
                }
            }
            Err(e) => Err(e.into()),
        };
        std::fs::remove_file(&part)?;
        result
    };
    match write() {
        Ok(None) => {}
        Ok(Some(Ok(()))) => return FileResult::Same,
        Ok(Some(Err(conflict))) => return FileResult::Failed(conflict),
        Err(e) => return FileResult::Failed(format!("cannot write {}: {e:#}", target.display())),
    }
    match flagged {
        Some(reason) => FileResult::Flagged {
            reason,
            written: true,
        },
        None => FileResult::Written,
    }
}
