//! `voxide`: the command line of the voxide imaging platform.
//!
//! A thin shell: argument parsing, progress bars and printing. The work is done by the library
//! crates (`voxide-dicom`, `voxide-io`, `voxide-core`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use voxide_core::{AnyImage, Image, LabelMap};
use voxide_dicom::{AssemblyOptions, DicomVolume, SeriesEntry};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod deid_cmd;
mod eval_cls_cmd;
mod eval_cmd;
mod eval_det_cmd;
mod eval_report;
mod infer_cmd;
mod net_cmd;
mod radiomics_cmd;
mod radiomics_report;
mod store_cmd;
mod token_cmd;

#[derive(Parser, Debug)]
#[command(
    name = "voxide",
    version,
    about = "voxide: medical imaging platform: serve, store, inspect and convert images (DICOM, NIfTI, NRRD)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Describe a DICOM file or folder, a NIfTI or an NRRD image: modality, size, spacing,
    /// orientation, value range and warnings.
    Info {
        /// A DICOM file, a folder of DICOM files, or a .nii/.nii.gz/.nrrd/.nhdr image.
        path: PathBuf,
        /// Series Instance UID to describe in detail, when the folder holds several.
        #[arg(long)]
        series: Option<String>,
    },
    /// Convert a DICOM series or RTSTRUCT to NIfTI/NRRD, or between NIfTI and NRRD.
    ///
    /// The output format follows the extension: .nii, .nii.gz, .nrrd.
    Convert {
        /// A DICOM series folder (or file), an RTSTRUCT file, or a NIfTI/NRRD image.
        input: PathBuf,
        /// Output image (.nii, .nii.gz or .nrrd).
        output: PathBuf,
        /// Series Instance UID to convert, when the input folder holds several series.
        #[arg(long)]
        series: Option<String>,
        /// For an RTSTRUCT input: the folder of the image series it was drawn on. By default
        /// the folders next to the RTSTRUCT are searched for the series it references.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// For an RTSTRUCT input: the ROI to rasterise (default: all ROIs as a label map,
        /// label n for the n-th ROI).
        #[arg(long)]
        roi: Option<String>,
        /// Accept DICOM series with non-uniform slice spacing (mean spacing, with a warning).
        #[arg(long)]
        allow_nonuniform: bool,
        /// Write NIfTI-2 instead of NIfTI-1.
        #[arg(long)]
        nifti2: bool,
    },
    /// Store DICOM files (a folder, a file or a .zip) in the imaging store: validated,
    /// de-duplicated, written atomically and indexed.
    Import {
        /// A folder (searched recursively), one DICOM file, or a .zip archive.
        path: PathBuf,
        /// The store's data folder.
        #[arg(long, default_value = "voxide-data")]
        data_dir: PathBuf,
        /// What to do with an instance re-sent with other bytes: reject or overwrite.
        #[arg(long, default_value = "reject")]
        on_conflict: voxide_store::ConflictPolicy,
        /// Objects ingested at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
    },
    /// Run the imaging server: DICOMweb (STOW-RS, QIDO-RS, WADO-RS, WADO-URI) over HTTP and
    /// DICOM (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET) on the DICOM port, on embedded storage.
    Serve {
        /// A TOML configuration file (see --print-config for every key and its default).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The store's data folder.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// HTTP address, e.g. 127.0.0.1:8042.
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
        /// DICOM port (0 turns the DICOM listener off).
        #[arg(long)]
        dicom_port: Option<u16>,
        /// Our AE title.
        #[arg(long)]
        ae_title: Option<String>,
        /// Print the effective configuration as TOML and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// Send DICOM files (a file or a folder) to a DICOM node with C-STORE.
    Send {
        /// A DICOM file or a folder (searched recursively).
        path: PathBuf,
        /// The destination, as AE@host:port.
        #[arg(long)]
        to: voxide_server::scu::Target,
        /// Our (calling) AE title.
        #[arg(long, default_value = "VOXIDE")]
        calling_ae: String,
    },
    /// Verify a DICOM node with C-ECHO.
    Echo {
        /// The node, as AE@host:port.
        target: voxide_server::scu::Target,
        /// Our (calling) AE title.
        #[arg(long, default_value = "VOXIDE")]
        calling_ae: String,
    },
    /// Radiomics: IBSI features of a region of interest, for one case or a cohort.
    #[command(subcommand)]
    Radiomics(RadiomicsCommand),
    /// Evaluate AI outputs against a reference standard.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Run an AI model package (ONNX) on an image or DICOM series: label map, probabilities,
    /// The audit ledger: verify a data folder's ledger from its stored entries.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Accounts and API tokens of a data folder: create (prints the token once), list, revoke.
    #[command(subcommand)]
    Token(token_cmd::TokenCommand),
    /// De-identify DICOM files (PS3.15 Annex E Basic Profile and options) into a new folder:
    /// identifying attributes removed or replaced, UIDs and dates remapped under a secret key,
    /// private attributes dropped, images with burned-in text flagged or masked.
    Deid(deid_cmd::DeidArgs),
    /// DICOM SEG (for DICOM inputs), classification results, run.json.
    Infer(infer_cmd::InferArgs),
    /// Manage the local model registry: add (checked), list, show, remove.
    #[command(subcommand)]
    Model(infer_cmd::ModelCommand),
    /// Verify that the store's index and files agree (missing, corrupt and orphan files).
    Check {
        /// The store's data folder.
        #[arg(long, default_value = "voxide-data")]
        data_dir: PathBuf,
        /// Also re-hash every file against the index (reads everything).
        #[arg(long)]
        deep: bool,
        /// Remove files that no instance references.
        #[arg(long)]
        repair: bool,
    },
}

#[derive(Subcommand, Debug)]
enum RadiomicsCommand {
    /// Features of one image and mask, as CSV or JSON (one row).
    Extract {
        /// The image: NIfTI, NRRD, or a DICOM series folder.
        #[arg(long)]
        image: PathBuf,
        /// The mask: a NIfTI/NRRD label image on the image grid, a DICOM SEG or an RTSTRUCT.
        #[arg(long)]
        mask: PathBuf,
        /// The label of the ROI in the mask (SEG: the segment number; RTSTRUCT: the n-th ROI).
        /// Default 1, or the parameter file's `label` setting with --params.
        #[arg(long)]
        label: Option<u8>,
        #[command(flatten)]
        settings: radiomics_cmd::SettingsArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: radiomics_cmd::OutputFormat,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Features of every case of a cohort table (columns Image, Mask[, Label], as PyRadiomics'
    /// batch mode), on all cores, resumable: cases finished by an earlier run are kept.
    Batch {
        /// The cohort table (CSV). Relative paths are taken from its folder.
        cohort: PathBuf,
        /// The feature table to write (CSV, one row per case). Finished cases are kept in
        /// `<output>.cases.jsonl` so that an interrupted batch resumes.
        #[arg(short, long, default_value = "features.csv")]
        output: PathBuf,
        #[command(flatten)]
        settings: radiomics_cmd::SettingsArgs,
        /// Cases computed at once (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Compute cases that failed in an earlier run again.
        #[arg(long)]
        retry_failed: bool,
        /// Also write an HTML report (feature distributions, failed cases) with a correlation
        /// heatmap PNG beside it.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum LedgerCommand {
    /// Recompute the Merkle tree from every stored entry and check each signed checkpoint
    /// (signature, root, consistency with the one before); any changed, removed, reordered or
    /// inserted entry fails, naming where trust ends. Works while the server runs.
    Verify {
        /// The store's data folder.
        #[arg(long, default_value = "voxide-data")]
        data_dir: PathBuf,
        /// The ledger's verifier key as you recorded it (`GET /api/ledger`), to detect a
        /// replaced key folder.
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// Segmentation metrics (Dice, IoU, HD, HD95, ASSD, MASD, NSD, boundary IoU, volumes, ...)
    /// of predicted masks against reference masks, per case and label, with a summary.
    Seg(eval_cmd::SegArgs),
    /// Classification metrics of score columns against binary labels (CSV): ROC/AUC with
    /// DeLong and bootstrap intervals, DeLong tests, Wilson intervals, Youden, calibration.
    Cls(eval_cls_cmd::ClsArgs),
    /// Detection metrics of lesion detections against reference lesions (CSV, LUNA16 layout):
    /// FROC, CPM with a bootstrap interval over scans.
    Det(eval_det_cmd::DetArgs),
}

/// mimalloc returns freed memory to the OS 10 ms after it is freed. A network run frees and
/// allocates tens of MB per layer, so each layer's tensors were page-faulted and zeroed anew
/// (18% of a one-thread 3D U-Net run). mimalloc reads its options once, before `main`, from
/// the environment only (setting them in code takes `unsafe` FFI, which the workspace
/// forbids), so `infer` and `serve` re-execute themselves once with a longer delay: -1 (keep)
/// for a one-shot `infer`, 2 s for the server so that idle memory still goes back.
///
/// The binary is built with transparent huge pages off (mimalloc's `no_thp`): a short command
/// touches its memory once, and faulting it in 2 MiB pages zeroed 17% of a one-thread
/// radiomics extraction's time away. Long runs that keep their memory (`infer`, `serve`) turn
/// them back on in the same re-execution.
fn reexec_with_allocator_options() {
    use std::os::unix::process::CommandExt;
    const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";
    const ALLOW_THP: &str = "MIMALLOC_ALLOW_THP";
    let delay = match std::env::args_os()
        .nth(1)
        .and_then(|a| a.into_string().ok())
    {
        Some(c) if c == "infer" => "-1",
        Some(c) if c == "serve" => "2000",
        _ => return,
    };
    if std::env::var_os(PURGE_DELAY).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env(PURGE_DELAY, delay);
    if std::env::var_os(ALLOW_THP).is_none() {
        command.env(ALLOW_THP, "1");
    }
    // `exec` returns only when it fails; then carry on with the defaults.
    let _ = command.exec();
}

fn main() -> ExitCode {
    reexec_with_allocator_options();
    let cli = Cli::parse();
    // The server logs what it does; one-shot commands only warnings.
    let default_filter = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VOXIDE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Info { path, series } => info(&path, series.as_deref()),
        Command::Import {
            path,
            data_dir,
            on_conflict,
            jobs,
        } => store_cmd::import(&path, data_dir, on_conflict, jobs),
        Command::Check {
            data_dir,
            deep,
            repair,
        } => store_cmd::check(data_dir, deep, repair),
        Command::Serve {
            config,
            data_dir,
            http,
            dicom_port,
            ae_title,
            print_config,
        } => net_cmd::serve(net_cmd::ServeOverrides {
            config,
            data_dir,
            http,
            dicom_port,
            ae_title,
            print_config,
        }),
        Command::Send {
            path,
            to,
            calling_ae,
        } => net_cmd::send(&path, &to, &calling_ae),
        Command::Echo { target, calling_ae } => net_cmd::echo(&target, &calling_ae),
        Command::Radiomics(RadiomicsCommand::Extract {
            image,
            mask,
            label,
            settings,
            format,
            output,
        }) => radiomics_cmd::extract(&image, &mask, label, &settings, format, output.as_deref()),
        Command::Radiomics(RadiomicsCommand::Batch {
            cohort,
            output,
            settings,
            jobs,
            retry_failed,
            report,
        }) => radiomics_cmd::batch(
            &cohort,
            &output,
            &settings,
            jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            retry_failed,
            report.as_deref(),
        ),
        Command::Eval(EvalCommand::Seg(args)) => eval_cmd::seg(&args),
        Command::Eval(EvalCommand::Cls(args)) => eval_cls_cmd::cls(&args),
        Command::Eval(EvalCommand::Det(args)) => eval_det_cmd::det(&args),
        Command::Deid(args) => deid_cmd::deid(&args),
        Command::Ledger(LedgerCommand::Verify { data_dir, key }) => {
            store_cmd::ledger_verify(&data_dir, key.as_deref())
        }
        Command::Token(cmd) => token_cmd::token(cmd),
        Command::Infer(args) => infer_cmd::infer(&args),
        Command::Model(cmd) => infer_cmd::model(&cmd),
        Command::Convert {
            input,
            output,
            series,
            reference,
            roi,
            allow_nonuniform,
            nifti2,
        } => convert(&ConvertArgs {
            input,
            output,
            series,
            reference,
            roi,
            options: AssemblyOptions {
                allow_nonuniform_spacing: allow_nonuniform,
            },
            nifti2,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A progress bar that shows itself only for work that lasts (indicatif hides it when stderr is
/// not a terminal).
pub(crate) fn progress_bar(message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

fn scan_with_progress(path: &Path) -> Result<voxide_dicom::Scan> {
    let bar = progress_bar("reading");
    let cb = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let scan = voxide_dicom::scan(path, Some(&cb));
    bar.finish_and_clear();
    Ok(scan?)
}

fn assemble_with_progress(series: &SeriesEntry, options: &AssemblyOptions) -> Result<DicomVolume> {
    let bar = progress_bar("decoding");
    let cb = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let vol = voxide_dicom::assemble(series, options, Some(&cb));
    bar.finish_and_clear();
    Ok(vol?)
}

/// Picks the series to work on: the one asked for, or the only one.
fn pick_series(path: &Path, scan: voxide_dicom::Scan, uid: Option<&str>) -> Result<SeriesEntry> {
    let mut all = scan.series;
    if let Some(uid) = uid {
        return match all.iter().position(|s| s.series_instance_uid == uid) {
            Some(i) => Ok(all.swap_remove(i)),
            None => bail!(
                "{}: no series with UID {uid}; it holds: {}",
                path.display(),
                all.iter()
                    .map(|s| s.series_instance_uid.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    match all.len() {
        0 => Err(voxide_dicom::DicomError::NoImages {
            path: path.to_path_buf(),
            unreadable: scan.unreadable.len(),
            non_image: scan.non_image.len(),
        }
        .into()),
        1 => Ok(all.swap_remove(0)),
        _ => Err(voxide_dicom::DicomError::MultipleSeries {
            path: path.to_path_buf(),
            series: all
                .iter()
                .map(|s| {
                    format!(
                        "{} [{} images]",
                        voxide_dicom::describe_series(s),
                        s.slices.len()
                    )
                })
                .collect(),
        }
        .into()),
    }
}

pub(crate) fn is_image_file(path: &Path) -> bool {
    path.is_file() && voxide_io::format_of(path).is_some()
}

fn info(path: &Path, series_uid: Option<&str>) -> Result<()> {
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    if is_image_file(path) {
        let image = voxide_io::read_image(path)?;
        println!("file:        {}", path.display());
        print_image(&image);
        return Ok(());
    }
    let scan = scan_with_progress(path)?;
    if path.is_file() && scan.series.is_empty() {
        if let Some((_, class)) = scan.non_image.first() {
            println!("file:        {}", path.display());
            println!("object:      {class} (no pixel data)");
            return Ok(());
        }
        if let Some((_, reason)) = scan.unreadable.first() {
            bail!("{reason}\nhint: voxide reads DICOM (.dcm or no extension), NIfTI (.nii, .nii.gz) and NRRD (.nrrd, .nhdr)");
        }
    }
    println!("path:        {}", path.display());
    println!(
        "contents:    {} image series, {} non-image DICOM objects, {} unreadable files",
        scan.series.len(),
        scan.non_image.len(),
        scan.unreadable.len()
    );
    for s in &scan.series {
        println!(
            "  series {} | {} | {} images | {} | {}",
            s.series_instance_uid,
            s.modality.as_deref().unwrap_or("?"),
            s.slices.len(),
            s.series_description.as_deref().unwrap_or(""),
            s.transfer_syntaxes.join(", ")
        );
    }
    for (p, class) in scan.non_image.iter().take(20) {
        println!("  object {} | {class}", p.display());
    }
    for (p, reason) in scan.unreadable.iter().take(20) {
        println!("  unreadable {}: {reason}", p.display());
    }
    if scan.series.len() > 1 && series_uid.is_none() {
        println!("(pass --series UID for the geometry and values of one series)");
        return Ok(());
    }
    if scan.series.is_empty() {
        return Ok(());
    }
    let series = pick_series(path, scan, series_uid)?;
    println!();
    println!("series:      {}", series.series_instance_uid);
    println!("modality:    {}", series.modality.as_deref().unwrap_or("?"));
    if let Some(d) = &series.series_description {
        println!("description: {d}");
    }
    if let Some(p) = &series.patient_id {
        println!("patient id:  {p}");
    }
    if let Some(s) = &series.study_instance_uid {
        println!("study:       {s}");
    }
    match assemble_with_progress(&series, &AssemblyOptions::default()) {
        Ok(vol) => {
            print_image(&vol.image);
            for w in &vol.warnings {
                println!("warning:     {w}");
            }
        }
        Err(e) => bail!("the series cannot be assembled into a volume: {e:#}"),
    }
    Ok(())
}

fn print_image(image: &AnyImage) {
    let g = image.geometry();
    let [ni, nj, nk] = g.size();
    println!(
        "size:        {ni} x {nj} x {nk} voxels ({})",
        image.voxel_type()
    );
    println!("spacing:     {} mm", fmt3(g.spacing()));
    println!("origin:      {} mm (LPS)", fmt3(g.origin()));
    let d = g.direction();
    println!(
        "direction:   [{}] [{}] [{}] ({})",
        fmt_col(&d, 0),
        fmt_col(&d, 1),
        fmt_col(&d, 2),
        g.orientation_code()
    );
    if !g.is_orthonormal(1e-4) {
        println!("warning:     direction cosines are not orthonormal (sheared grid)");
    }
    match image.min_max() {
        Some((lo, hi)) => println!("values:      {lo} .. {hi}"),
        None => println!("values:      (empty)"),
    }
}

fn fmt3(v: [f64; 3]) -> String {
    format!("{:.4} {:.4} {:.4}", v[0], v[1], v[2])
}

fn fmt_col(d: &[[f64; 3]; 3], c: usize) -> String {
    format!("{:.4} {:.4} {:.4}", d[0][c], d[1][c], d[2][c])
}

struct ConvertArgs {
    input: PathBuf,
    output: PathBuf,
    series: Option<String>,
    reference: Option<PathBuf>,
    roi: Option<String>,
    options: AssemblyOptions,
    nifti2: bool,
}

fn convert(args: &ConvertArgs) -> Result<()> {
    let input = &args.input;
    if !input.exists() {
        bail!("{}: no such file or folder", input.display());
    }
    if voxide_io::format_of(&args.output).is_none() {
        bail!(
            "{}: unknown output format; use .nii, .nii.gz or .nrrd",
            args.output.display()
        );
    }
    let image = if is_image_file(input) {
        voxide_io::read_image(input)?
    } else if input.is_file() && is_rtstruct(input) {
        rtstruct_to_labels(args)?
    } else {
        let scan = scan_with_progress(input)?;
        let series = pick_series(input, scan, args.series.as_deref())?;
        let vol = assemble_with_progress(&series, &args.options)?;
        for w in &vol.warnings {
            eprintln!("warning: {w}");
        }
        vol.image
    };
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!("writing {}", args.output.display()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let written = write_image(&args.output, &image, args.nifti2);
    spinner.finish_and_clear();
    written?;
    let g = image.geometry();
    eprintln!(
        "wrote {} ({} x {} x {}, {})",
        args.output.display(),
        g.size()[0],
        g.size()[1],
        g.size()[2],
        image.voxel_type()
    );
    Ok(())
}

fn write_image(path: &Path, image: &AnyImage, nifti2: bool) -> Result<()> {
    match voxide_io::format_of(path) {
        Some(voxide_io::Format::Nifti) if nifti2 => {
            voxide_io::nifti::write(path, image, voxide_io::nifti::NiftiVersion::V2)?
        }
        _ => voxide_io::write_image(path, image)?,
    }
    Ok(())
}

pub(crate) fn is_rtstruct(path: &Path) -> bool {
    voxide_dicom::open(path, voxide_dicom::ReadDepth::Header)
        .ok()
        .and_then(|o| voxide_dicom::str_of(&o, voxide_dicom::tags::MODALITY))
        .is_some_and(|m| m == "RTSTRUCT")
}

/// Finds the image series an RTSTRUCT was drawn on and rasterises its ROIs onto it.
fn rtstruct_to_labels(args: &ConvertArgs) -> Result<AnyImage> {
    let set = voxide_dicom::read_rtstruct(&args.input)?;
    let search_root = match &args.reference {
        Some(r) => r.clone(),
        None => args
            .input
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .context("cannot find the reference series: pass --reference <series folder>")?,
    };
    let scan = scan_with_progress(&search_root)?;
    let wanted = set.referenced_series_uid.clone();
    let candidates: Vec<SeriesEntry> = scan
        .series
        .into_iter()
        .filter(|s| match (&wanted, &args.series) {
            (_, Some(uid)) => &s.series_instance_uid == uid,
            (Some(uid), None) => &s.series_instance_uid == uid,
            (None, None) => s.frame_of_reference_uid == set.frame_of_reference_uid,
        })
        .collect();
    let series = match candidates.len() {
        1 => candidates.into_iter().next().context("no series")?,
        0 => bail!(
            "{}: the series this RTSTRUCT references ({}) is not under {}; pass --reference <series folder>",
            args.input.display(),
            wanted.as_deref().unwrap_or("unknown UID"),
            search_root.display()
        ),
        n => bail!(
            "{}: {n} candidate reference series under {}; pass --series UID",
            args.input.display(),
            search_root.display()
        ),
    };
    let vol = assemble_with_progress(&series, &args.options)?;
    let geometry = vol.image.geometry().clone();
    let rois: Vec<&voxide_dicom::Roi> = match &args.roi {
        Some(name) => vec![set.roi(name)?],
        None => set.rois.iter().collect(),
    };
    if rois.len() > 255 {
        bail!(
            "{} ROIs do not fit an 8-bit label map; choose one with --roi",
            rois.len()
        );
    }
    let mut labels = Image::<u8>::filled(geometry.clone(), 0);
    let mut overlaps = 0usize;
    for (n, roi) in rois.iter().enumerate() {
        let r = voxide_dicom::rasterise(roi, &geometry)?;
        for w in &r.warnings {
            eprintln!("warning: {w}");
        }
        let label = if rois.len() == 1 { 1 } else { (n + 1) as u8 };
        eprintln!(
            "label {label}: {} ({} voxels)",
            roi.name,
            r.mask.foreground()
        );
        for (dst, src) in labels
            .data_mut()
            .iter_mut()
            .zip(r.mask.labels().data().iter())
        {
            if *src != 0 {
                if *dst != 0 {
                    overlaps += 1;
                }
                *dst = label;
            }
        }
    }
    if overlaps > 0 {
        eprintln!("warning: {overlaps} voxels belong to several ROIs; the later ROI's label wins (use --roi for one mask per ROI)");
    }
    let map = LabelMap::new(labels);
    map.check_matches(&geometry)?;
    Ok(AnyImage::U8(map.into_image()))
}
