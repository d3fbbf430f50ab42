//! `voxide radiomics`: feature extraction for one case or a cohort.
//!
//! The shell around `voxide-radiomics`: reading images and masks (NIfTI, NRRD, DICOM series
//! with RTSTRUCT or SEG), settings, CSV/JSON output, and the resumable parallel batch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use voxide_core::{AnyImage, Geometry, Image};
use voxide_radiomics::pyradiomics::{PyRadiomicsParams, PyValue};
use voxide_radiomics::Settings;

/// Output formats of `extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Csv,
    Json,
}

/// How features are configured on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct SettingsArgs {
    /// Use one of the IBSI reference configurations (A to E) of the IBSI manual's chapter 5.
    #[arg(long, value_name = "A..E", conflicts_with = "params")]
    pub ibsi_config: Option<char>,
    /// PyRadiomics compatibility: a PyRadiomics parameter file (YAML or JSON); features get
    /// PyRadiomics' names and values, with its `diagnostics_*` columns.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
}

/// The feature definitions a run uses.
#[derive(Debug)]
enum Mode {
    Ibsi(Settings),
    PyRadiomics(PyRadiomicsParams),
}

impl SettingsArgs {
    fn mode(&self) -> Result<Mode> {
        if let Some(path) = &self.params {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the parameter file {}", path.display()))?;
            let is_json = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let params = if is_json {
                PyRadiomicsParams::from_json(&text)
            } else {
                PyRadiomicsParams::from_yaml(&text)
            }
            .with_context(|| format!("parameter file {}", path.display()))?;
            return Ok(Mode::PyRadiomics(params));
        }
        Ok(Mode::Ibsi(match self.ibsi_config {
            Some(c) => Settings::ibsi_config(c).with_context(|| {
                format!("unknown IBSI configuration '{c}': use A, B, C, D or E")
            })?,
            None => Settings::default(),
        }))
    }

    /// A string that changes whenever the settings do (a batch refuses to mix results).
    fn fingerprint(&self) -> Result<String> {
        Ok(format!("{:?}", self.mode()?))
    }
}

/// One output value: a number, or text (PyRadiomics' diagnostics).
#[derive(Debug, Clone)]
enum Cell {
    Number(f64),
    Integer(i64),
    Text(String),
}

impl Cell {
    fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Number(v) => json_number(*v),
            Cell::Integer(i) => serde_json::Value::from(*i),
            Cell::Text(t) => serde_json::Value::String(t.clone()),
        }
    }
}

/// One case: an image, its mask and the label of the ROI.
#[derive(Debug, Clone)]
struct Case {
    image: PathBuf,
    mask: PathBuf,
    /// The ROI label; `None`: 1, or the parameter file's `label` in PyRadiomics mode.
    label: Option<u8>,
    /// Other columns of the cohort file, passed through to the output.
    extra: Vec<(String, String)>,
}

impl Case {
    fn key(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}",
            self.image.display(),
            self.mask.display(),
            self.label_text()
        )
    }

    fn label_text(&self) -> String {
        self.label.map(|l| l.to_string()).unwrap_or_default()
    }
}

/// `voxide radiomics extract`.
pub fn extract(
    image: &Path,
    mask: &Path,
    label: Option<u8>,
    settings: &SettingsArgs,
    format: OutputFormat,
    output: Option<&Path>,
) -> Result<()> {
    let settings = settings.mode()?;
    let case = Case {
        image: image.to_path_buf(),
        mask: mask.to_path_buf(),
        label,
        extra: Vec::new(),
    };
    let features = compute(&case, &settings)?;
    let mut row: Vec<(String, String)> = vec![
        ("Image".into(), image.display().to_string()),
        ("Mask".into(), mask.display().to_string()),
        ("Label".into(), case.label_text()),
    ];
    let text = match format {
        OutputFormat::Json => {
            let mut obj = serde_json::Map::new();
            for (k, v) in row {
                obj.insert(k, serde_json::Value::String(v));
            }
            for (k, v) in &features {
                obj.insert(k.clone(), v.to_json());
            }
            serde_json::to_string_pretty(&serde_json::Value::Object(obj))? + "\n"
        }
        OutputFormat::Csv => {
            row.extend(features.iter().map(|(k, v)| (k.clone(), format_cell(v))));
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(row.iter().map(|(k, _)| k))?;
            w.write_record(row.iter().map(|(_, v)| v))?;
            String::from_utf8(w.into_inner()?)?
        }
    };
    match output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}

/// Reads the inputs of a case and computes its features, as (column, value) in order.
fn compute(case: &Case, mode: &Mode) -> Result<Vec<(String, Cell)>> {
    if let Mode::PyRadiomics(params) = mode {
        if crate::is_image_file(&case.image) && crate::is_image_file(&case.mask) {
            let values = pyradiomics_streamed(case, params)?;
            return Ok(pyradiomics_cells(values));
        }
    }
    let image = read_volume(&case.image)
        .with_context(|| format!("reading image {}", case.image.display()))?;
    let geometry = image.geometry().clone();
    match mode {
        Mode::Ibsi(settings) => {
            let label = case.label.unwrap_or(1);
            let mask = read_mask(&case.mask, &geometry, label)
                .with_context(|| format!("reading mask {}", case.mask.display()))?;
            let features = voxide_core::with_image!(&image, img => {
                voxide_radiomics::extract(img, &mask, label, settings)
            })?;
            Ok(features
                .into_iter()
                .map(|f| (f.column_name(), Cell::Number(f.value)))
                .collect())
        }
        Mode::PyRadiomics(params) => {
            // PyRadiomics reads label images as they are (any integer type, any label); SEG
            // and RTSTRUCT masks are rasterised onto the image first.
            let mask = if crate::is_image_file(&case.mask) {
                voxide_io::read_image(&case.mask).map_err(anyhow::Error::from)
            } else {
                let label = case.label.unwrap_or(1);
                read_mask(&case.mask, &geometry, label).map(AnyImage::U8)
            }
            .with_context(|| format!("reading mask {}", case.mask.display()))?;
            let values = voxide_radiomics::pyradiomics::extract(
                &image,
                &mask,
                case.label.map(u32::from),
                params,
            )?;
            Ok(pyradiomics_cells(values))
        }
    }
}

fn pyradiomics_cells(values: Vec<(String, PyValue)>) -> Vec<(String, Cell)> {
    values
        .into_iter()
        .map(|(k, v)| {
            let cell = match v {
                PyValue::Float(f) => Cell::Number(f),
                PyValue::Int(i) => Cell::Integer(i),
                PyValue::Text(t) => Cell::Text(t),
            };
            (k, cell)
        })
        .collect()
}

/// Voxels per slab when streaming a volume: a few megabytes, reused, instead of the whole
/// decoded volume and its compressed file.
const SLAB_VOXELS: usize = 1 << 18;

/// Compressed images up to this many inflated bytes are read whole rather than streamed.
const WHOLE_READ_BYTES: usize = 8 << 20;

/// The PyRadiomics extraction of two image files, streamed: the mask is reduced to its ROI as
/// it is read, and of the image only the box the extraction reads is kept (the hash and
/// statistics PyRadiomics reports are computed on the way). Extractions that need the whole
/// image (normalisation, resampling, a mask on another grid) read it whole.
fn pyradiomics_streamed(
    case: &Case,
    params: &voxide_radiomics::pyradiomics::PyRadiomicsParams,
) -> Result<Vec<(String, PyValue)>> {
    use voxide_radiomics::pyradiomics::{self as pyrad, ImageScan, MaskScan, ScannedMask};
    let read_image_err = || format!("reading image {}", case.image.display());
    let read_mask_err = || format!("reading mask {}", case.mask.display());
    for (path, what) in [(&case.image, "image"), (&case.mask, "mask")] {
        if !path.exists() {
            bail!("reading {what} {}: no such file or folder", path.display());
        }
    }
    let scan_mask = || -> Result<ScannedMask> {
        let mut mask = voxide_io::SlabReader::open(&case.mask).with_context(read_mask_err)?;
        let mut scan = MaskScan::new(mask.geometry(), case.label.map(u32::from), params)?;
        while let Some(slab) = mask.next_slab(SLAB_VOXELS).with_context(read_mask_err)? {
            scan.push(&slab)?;
        }
        Ok(scan.finish()?)
    };
    // Outside a batch (whose cases already use every core) and with a second core, a
    // compressed image is read whole on another thread, through the whole-buffer inflater
    // (libdeflate, the fastest), while this thread streams the mask; otherwise both stream.
    let mut image = voxide_io::SlabReader::open(&case.image).with_context(read_image_err)?;
    let parallel = rayon::current_num_threads() > 1 && rayon::current_thread_index().is_none();
    let inflated = (image.geometry().size().iter())
        .try_fold(image.voxel_type().size(), |bytes, &n| bytes.checked_mul(n))
        .unwrap_or(usize::MAX);
    // A small compressed image is read whole after the mask: libdeflate's whole-buffer inflate
    // is faster than streaming (zlib-rs) by more than faulting in the buffer costs.
    let small = image.compressed() && inflated <= WHOLE_READ_BYTES;
    if parallel && image.compressed() && !small {
        drop(image);
        return std::thread::scope(|scope| {
            let reading = scope.spawn(|| voxide_io::read_image(&case.image));
            let scanned = scan_mask();
            let image = reading
                .join()
                .map_err(|_| anyhow::anyhow!("the image reader thread panicked"))?
                .with_context(read_image_err)?;
            Ok(pyrad::extract_with_mask(&image, scanned?, params)?)
        });
    }
    let scanned = scan_mask()?;
    match scanned
        .image_box(image.geometry(), params)
        .filter(|_| !small)
    {
        Some(window) => {
            let mut scan = ImageScan::new(image.geometry(), image.voxel_type(), window)?;
            while let Some(slab) = image.next_slab(SLAB_VOXELS).with_context(read_image_err)? {
                scan.push(&slab)?;
            }
            Ok(pyrad::extract_scanned(scan.finish()?, scanned, params)?)
        }
        None => {
            drop(image);
            let whole = voxide_io::read_image(&case.image).with_context(read_image_err)?;
            Ok(pyrad::extract_with_mask(&whole, scanned, params)?)
        }
    }
}

/// An image file (NIfTI, NRRD) or a DICOM series folder.
pub(crate) fn read_volume(path: &Path) -> Result<AnyImage> {
    if !path.exists() {
        bail!("no such file or folder");
    }
    if crate::is_image_file(path) {
        return Ok(voxide_io::read_image(path)?);
    }
    let scan = voxide_dicom::scan(path, None)?;
    let series = crate::pick_series(path, scan, None)?;
    let volume = voxide_dicom::assemble(&series, &Default::default(), None)?;
    Ok(volume.image)
}

/// A label image (NIfTI, NRRD) on the image grid, a DICOM SEG whose segment number `label` is
/// placed onto the image grid, or a DICOM RTSTRUCT whose `label`-th ROI is rasterised onto it
/// (the result carries `label`).
fn read_mask(path: &Path, geometry: &Geometry, label: u8) -> Result<Image<u8>> {
    if !path.exists() {
        bail!("no such file or folder");
    }
    if crate::is_image_file(path) {
        let mask = voxide_io::read_image(path)?;
        if mask.voxel_type().is_float() {
            // Float masks (common in NIfTI) hold integral labels; round rather than truncate.
            let values: Vec<u8> = mask
                .to_f64_vec()
                .into_iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect();
            return Ok(Image::from_vec(mask.geometry().clone(), values)?);
        }
        let (lo, hi) = mask.min_max().unwrap_or((0.0, 0.0));
        if lo < 0.0 || hi > 255.0 {
            bail!("mask labels range over [{lo}, {hi}]; labels must be 0..=255");
        }
        return Ok(mask.cast());
    }
    if path.is_file() && crate::is_rtstruct(path) {
        let set = voxide_dicom::read_rtstruct(path)?;
        let index = usize::from(label)
            .checked_sub(1)
            .context("label 0 is the background")?;
        let roi = set.rois.get(index).with_context(|| {
            format!(
                "the structure set has {} ROIs ({}); --label picks the n-th",
                set.rois.len(),
                set.rois
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let raster = voxide_dicom::rasterise(roi, geometry)?;
        for w in &raster.warnings {
            tracing::warn!("{}: {w}", path.display());
        }
        let data = raster
            .mask
            .into_image()
            .data()
            .mapv(|v| if v != 0 { label } else { 0 });
        return Ok(Image::new(geometry.clone(), data)?);
    }
    if path.is_file() && is_seg(path) {
        let seg = voxide_dicom::read_seg(path)?;
        let raster = voxide_dicom::rasterise_segment(&seg, u16::from(label), geometry)?;
        for w in &raster.warnings {
            tracing::warn!("{}: {w}", path.display());
        }
        let data = raster
            .mask
            .into_image()
            .data()
            .mapv(|v| if v != 0 { label } else { 0 });
        return Ok(Image::new(geometry.clone(), data)?);
    }
    bail!("not a NIfTI/NRRD label image, a DICOM SEG or a DICOM RTSTRUCT file")
}

pub(crate) fn is_seg(path: &Path) -> bool {
    voxide_dicom::open(path, voxide_dicom::ReadDepth::Header)
        .ok()
        .and_then(|o| voxide_dicom::str_of(&o, voxide_dicom::tags::MODALITY))
        .is_some_and(|m| m == "SEG")
}

/// `voxide radiomics batch`.
pub fn batch(
    cohort: &Path,
    output: &Path,
    settings_args: &SettingsArgs,
    jobs: usize,
    retry_failed: bool,
    report: Option<&Path>,
) -> Result<()> {
    let settings = settings_args.mode()?;
    let cases = read_cohort(cohort)?;
    if cases.is_empty() {
        bail!(
            "{}: no cases (expected columns Image, Mask[, Label])",
            cohort.display()
        );
    }
    let state_path = state_path(output);
    let fingerprint = settings_args.fingerprint()?;
    let mut done = load_state(&state_path, &fingerprint)?;
    if retry_failed {
        done.retain(|_, v| v.get("error").is_none_or(serde_json::Value::is_null));
    }
    let todo: Vec<&Case> = cases
        .iter()
        .filter(|c| !done.contains_key(&c.key()))
        .collect();
    eprintln!(
        "{} cases: {} done earlier, {} to compute",
        cases.len(),
        cases.len() - todo.len(),
        todo.len()
    );
    let state = Mutex::new(open_state(&state_path, &fingerprint, done.is_empty())?);
    let bar = crate::progress_bar("cases");
    bar.set_length(todo.len() as u64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()?;
    let fresh: Vec<(String, serde_json::Value)> = pool.install(|| {
        todo.par_iter()
            .map(|case| {
                let started = Instant::now();
                let result = compute(case, &settings);
                let mut record = serde_json::Map::new();
                record.insert("key".into(), case.key().into());
                record.insert(
                    "seconds".into(),
                    json_number(started.elapsed().as_secs_f64()),
                );
                match result {
                    Ok(features) => {
                        let obj: serde_json::Map<String, serde_json::Value> = features
                            .into_iter()
                            .map(|(k, v)| (k, v.to_json()))
                            .collect();
                        record.insert("features".into(), obj.into());
                    }
                    Err(e) => {
                        bar.println(format!("failed: {}: {e:#}", case.image.display()));
                        record.insert("error".into(), format!("{e:#}").into());
                    }
                }
                let value = serde_json::Value::Object(record);
                if let Ok(mut file) = state.lock() {
                    // One line per finished case, flushed, so a killed batch resumes here.
                    let _ = writeln!(file, "{value}").and_then(|_| file.flush());
                }
                bar.inc(1);
                (case.key(), value)
            })
            .collect()
    });
    bar.finish_and_clear();
    done.extend(fresh);
    let (failed, columns) = write_table(output, &cases, &done)?;
    eprintln!(
        "wrote {} ({} cases, {} failed)",
        output.display(),
        cases.len(),
        failed
    );
    if let Some(report) = report {
        let rows: Vec<crate::radiomics_report::CaseRow> = cases
            .iter()
            .map(|case| {
                let result = done.get(&case.key());
                let features = result.and_then(|r| r.get("features"));
                crate::radiomics_report::CaseRow {
                    name: format!("{} [{}]", case.image.display(), case.label_text()),
                    error: match result {
                        None => Some("not computed"),
                        Some(r) => r.get("error").and_then(|e| e.as_str()),
                    },
                    features: columns
                        .iter()
                        .map(|c| features.and_then(|f| f.get(c)).and_then(|v| v.as_f64()))
                        .collect(),
                }
            })
            .collect();
        let png = crate::radiomics_report::write(report, &columns, &rows)?;
        eprintln!("wrote {} and {}", report.display(), png.display());
    }
    Ok(())
}

/// Where a batch keeps its finished cases: next to the output, `<output>.cases.jsonl`.
fn state_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".cases.jsonl");
    output.with_file_name(name)
}

/// Finished cases of an earlier run, by key; refuses results made with other settings.
fn load_state(path: &Path, fingerprint: &str) -> Result<HashMap<String, serde_json::Value>> {
    let mut done = HashMap::new();
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(done);
    };
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        // A line cut short by a kill is ignored: its case is computed again.
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if n == 0 {
            if value.get("settings").and_then(|s| s.as_str()) != Some(fingerprint) {
                bail!(
                    "{} holds results computed with other settings; delete it or write to another output",
                    path.display()
                );
            }
            continue;
        }
        if let Some(key) = value.get("key").and_then(|k| k.as_str()) {
            done.insert(key.to_string(), value);
        }
    }
    Ok(done)
}

fn open_state(path: &Path, fingerprint: &str, fresh: bool) -> Result<std::fs::File> {
    let exists = path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if fresh && !exists {
        writeln!(file, "{}", serde_json::json!({ "settings": fingerprint }))?;
    } else if ends_mid_line(path) {
        // A killed run may have left half a line: end it so the next record starts afresh.
        writeln!(file)?;
    }
    Ok(file)
}

/// Whether the file's last byte is not a newline.
fn ends_mid_line(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut last = [0u8; 1];
    std::fs::File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::End(-1))?;
            f.read_exact(&mut last)
        })
        .is_ok_and(|()| last[0] != b'\n')
}

/// The cohort table: columns `Image`, `Mask`, optional `Label` (PyRadiomics' batch format);
/// relative paths are taken from the table's folder.
fn read_cohort(path: &Path) -> Result<Vec<Case>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(ic), Some(mc)) = (column("Image"), column("Mask")) else {
        bail!(
            "{}: the header must name the columns Image and Mask (and optionally Label); found {:?}",
            path.display(),
            headers.iter().collect::<Vec<_>>()
        );
    };
    let lc = column("Label");
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| {
        let p = PathBuf::from(p.trim());
        if p.is_relative() {
            base.join(p)
        } else {
            p
        }
    };
    let mut cases = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", path.display(), n + 2))?;
        let label = match lc.and_then(|c| record.get(c)).map(str::trim) {
            None | Some("") => None,
            Some(l) => Some(l.parse().with_context(|| {
                format!(
                    "{}: row {}: label '{l}' is not 0..=255",
                    path.display(),
                    n + 2
                )
            })?),
        };
        let extra = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != ic && *i != mc && Some(*i) != lc)
            .map(|(i, h)| (h.to_string(), record.get(i).unwrap_or("").to_string()))
            .collect();
        cases.push(Case {
            image: resolve(record.get(ic).unwrap_or("")),
            mask: resolve(record.get(mc).unwrap_or("")),
            label,
            extra,
        });
    }
    Ok(cases)
}

/// Writes one row per case, in cohort order; returns the number of failed cases and the
/// feature columns.
fn write_table(
    path: &Path,
    cases: &[Case],
    results: &HashMap<String, serde_json::Value>,
) -> Result<(usize, Vec<String>)> {
    let mut feature_columns: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for case in cases {
        if let Some(obj) = results
            .get(&case.key())
            .and_then(|r| r.get("features"))
            .and_then(|f| f.as_object())
        {
            for k in obj.keys() {
                if seen.insert(k.clone()) {
                    feature_columns.push(k.clone());
                }
            }
        }
    }
    let extra_columns: Vec<String> = cases
        .first()
        .map(|c| c.extra.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let tmp = path.with_extension("csv.partial");
    let mut w =
        csv::Writer::from_path(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    let mut header = vec!["Image".to_string(), "Mask".into(), "Label".into()];
    header.extend(extra_columns.iter().cloned());
    header.extend(["status".to_string(), "error".into(), "seconds".into()]);
    header.extend(feature_columns.iter().cloned());
    w.write_record(&header)?;
    let mut failed = 0;
    for case in cases {
        let result = results.get(&case.key());
        let error = result
            .and_then(|r| r.get("error"))
            .and_then(|e| e.as_str())
            .map(str::to_string);
        let features: BTreeMap<&str, &serde_json::Value> = result
            .and_then(|r| r.get("features"))
            .and_then(|f| f.as_object())
            .map(|o| o.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default();
        let status = match (&result, &error) {
            (None, _) => "missing",
            (_, Some(_)) => "failed",
            _ => "ok",
        };
        if status != "ok" {
            failed += 1;
        }
        let mut row = vec![
            case.image.display().to_string(),
            case.mask.display().to_string(),
            case.label_text(),
        ];
        row.extend(case.extra.iter().map(|(_, v)| v.clone()));
        row.push(status.into());
        row.push(error.unwrap_or_default());
        row.push(
            result
                .and_then(|r| r.get("seconds"))
                .and_then(|s| s.as_f64())
                .map(|s| format!("{s:.3}"))
                .unwrap_or_default(),
        );
        row.extend(feature_columns.iter().map(|c| {
            features
                .get(c.as_str())
                .map(|v| match v {
                    serde_json::Value::String(t) => t.clone(),
                    serde_json::Value::Number(n) if n.is_i64() => n.to_string(),
                    other => format_value(other.as_f64().unwrap_or(f64::NAN)),
                })
                .unwrap_or_default()
        }));
        w.write_record(&row)?;
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((failed, feature_columns))
}

/// Full precision, `nan` for undefined values (what numpy and pandas read back).
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        format!("{v:?}")
    }
}

fn format_cell(c: &Cell) -> String {
    match c {
        Cell::Number(v) => format_value(*v),
        Cell::Integer(i) => i.to_string(),
        Cell::Text(t) => t.clone(),
    }
}

/// JSON has no NaN; undefined features are written as null.
fn json_number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}
