//! De-identification of every DICOM file of the shared data, checked against PS3.15 Table E.1-1
//! itself (read from the standard's machine-readable copy in the shared data, not from the table
//! this crate embeds), against every identifying value of the originals, and with dcmtk's
//! `dcmdump`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;
use voxide_deid::{deidentify, Config, DeidKey, Options};
use voxide_dicom::{open, DicomObject, ReadDepth};

/// Basic-profile action codes of Table E.1-1 by tag, from the shared copy of the standard.
/// Wildcard rows (`50XX,XXXX`, `60XX,...`) are returned separately as (mask, value, action).
struct Reference {
    exact: HashMap<u32, String>,
    wildcard: Vec<(u32, u32, String)>,
    names: HashMap<u32, String>,
}

fn reference_table() -> Reference {
    let path = voxide_testdata::data(
        "standards/dicom-ps3.15-annex-e/confidentiality_profile_attributes.json",
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut reference = Reference {
        exact: HashMap::new(),
        wildcard: Vec::new(),
        names: HashMap::new(),
    };
    for row in rows {
        let tag = row["tag"]
            .as_str()
            .unwrap()
            .trim_matches(['(', ')'])
            .replace(',', "");
        let action = row["basicProfile"].as_str().unwrap().to_string();
        if tag.len() != 8 {
            continue; // "(GGGG,EEEE) where GGGG is odd": checked as "no private attribute"
        }
        let (mut mask, mut value) = (0u32, 0u32);
        for c in tag.chars() {
            mask <<= 4;
            value <<= 4;
            if let Some(d) = c.to_digit(16) {
                mask |= 0xF;
                value |= d;
            }
        }
        reference
            .names
            .insert(value, row["name"].as_str().unwrap().to_string());
        if mask == u32::MAX {
            reference.exact.insert(value, action);
        } else {
            reference.wildcard.push((mask, value, action));
        }
    }
    assert!(reference.exact.len() > 600, "Table E.1-1 has over 600 rows");
    reference
}

impl Reference {
    fn action(&self, tag: Tag) -> Option<&str> {
        let key = tag_key(tag);
        self.exact.get(&key).map(String::as_str).or_else(|| {
            self.wildcard
                .iter()
                .find(|(m, v, _)| key & m == *v)
                .map(|(_, _, a)| a.as_str())
        })
    }
}

fn tag_key(tag: Tag) -> u32 {
    (u32::from(tag.group()) << 16) | u32::from(tag.element())
}

/// Every element of a dataset, sequences entered, with the text of its value (binary values
/// other than pixel data read as Latin-1 text so that hidden strings show).
fn walk(ds: &InMemDicomObject, out: &mut Vec<(Tag, VR, String)>) {
    for e in ds.iter() {
        match e.value() {
            Value::Sequence(seq) => {
                out.push((e.tag(), VR::SQ, String::new()));
                for item in seq.items() {
                    walk(item, out);
                }
            }
            Value::PixelSequence(_) => out.push((e.tag(), e.vr(), String::new())),
            Value::Primitive(_) if e.tag() == tags::PIXEL_DATA => {
                out.push((e.tag(), e.vr(), String::new()))
            }
            Value::Primitive(p) => {
                let text = match e.vr() {
                    VR::OB | VR::OW | VR::UN | VR::OF | VR::OD | VR::OL | VR::OV => {
                        p.to_bytes().iter().map(|&b| b as char).collect()
                    }
                    _ => p.to_str().to_string(),
                };
                out.push((e.tag(), e.vr(), text));
            }
        }
    }
}

fn meta_values(obj: &DicomObject) -> Vec<String> {
    let m = obj.meta();
    let mut v = vec![
        m.media_storage_sop_instance_uid.clone(),
        m.media_storage_sop_class_uid.clone(),
    ];
    v.extend(m.source_application_entity_title.clone());
    v.extend(m.sending_application_entity_title.clone());
    v.extend(m.receiving_application_entity_title.clone());
    v
}

fn clean(s: &str) -> String {
    s.trim_matches(['\0', ' ']).to_string()
}

/// The identifying values of an original object, upper-cased: the words of person names (runs of
/// letters and digits, at least 4 long), dates (8 digits), whole identifiers and institution
/// names (at least 4 characters), and UIDs the table says to replace. UIDs of the DICOM
/// standard and of classes are not identifying.
#[derive(Default)]
struct Identifying {
    /// Found in output text only as whole words or phrases (bounded by non-alphanumerics).
    bounded: HashSet<String>,
    /// Found anywhere (UIDs).
    anywhere: HashSet<String>,
}

fn identifying_values(obj: &DicomObject, reference: &Reference) -> Identifying {
    let mut elements = Vec::new();
    walk(obj, &mut elements);
    let mut found = Identifying::default();
    for (tag, vr, text) in &elements {
        let name = reference.names.get(&tag_key(*tag)).map(String::as_str);
        let action = reference.action(*tag).unwrap_or("K");
        let is_id = name.is_some_and(|n| {
            n.ends_with(" ID")
                || n.ends_with(" IDs")
                || n.contains("Identifier")
                || n.contains("Accession")
        }) && action != "K";
        let is_institution = name.is_some_and(|n| n.contains("Institution"));
        let is_uid = *vr == VR::UI && action.contains('U');
        for value in text.split('\\').map(clean) {
            let value = value.to_uppercase();
            match vr {
                VR::PN => found.bounded.extend(
                    value
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| w.chars().count() >= 4)
                        .map(str::to_string),
                ),
                VR::DA | VR::DT if value.len() >= 8 => {
                    found.bounded.insert(value[..8].to_string());
                }
                _ if is_uid && value.len() >= 4 => {
                    found.anywhere.insert(value);
                }
                _ if (is_id || is_institution) && value.len() >= 4 => {
                    found.bounded.insert(value);
                }
                _ => {}
            }
        }
    }
    found
}

/// Whether `text` holds `needle` bounded by non-alphanumeric characters (or its ends).
fn holds_word(text: &str, needle: &str) -> bool {
    let mut from = 0;
    while let Some(at) = text[from..].find(needle) {
        let start = from + at;
        let end = start + needle.len();
        let before = text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        let after = text[end..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric);
        if !before && !after {
            return true;
        }
        from = start + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

impl Identifying {
    /// The identifying values `text` holds.
    fn leaks<'a>(&'a self, text: &str) -> Vec<&'a str> {
        let upper = text.to_uppercase();
        let mut out: Vec<&str> = self
            .bounded
            .iter()
            .filter(|id| holds_word(&upper, id))
            .chain(
                self.anywhere
                    .iter()
                    .filter(|id| upper.contains(id.as_str())),
            )
            .map(String::as_str)
            .collect();
        out.sort_unstable();
        out
    }
}

struct FileReport {
    flagged: bool,
    /// False for a refused DICOMDIR.
    written: bool,
}

fn check_file(
    path: &Path,
    out_dir: &Path,
    config: &Config,
    reference: &Reference,
) -> Result<FileReport, String> {
    let original = open(path, ReadDepth::Full).map_err(|e| e.to_string())?;
    if original
        .meta()
        .media_storage_sop_class_uid
        .trim_end_matches('\0')
        == "1.2.840.10008.1.3.10"
    {
        // A DICOMDIR is refused: its file IDs are paths named after patients.
        return match deidentify(original, config) {
            Err(e) if e.to_string().contains("DICOMDIR") => Ok(FileReport {
                flagged: false,
                written: false,
            }),
            Err(e) => Err(format!("DICOMDIR refused for another reason: {e}")),
            Ok(_) => Err("a DICOMDIR was de-identified; it must be refused".into()),
        };
    }
    let identifying = identifying_values(&original, reference);
    let mut original_values: HashMap<Tag, HashSet<String>> = HashMap::new();
    let mut elements = Vec::new();
    walk(&original, &mut elements);
    for (tag, _, text) in &elements {
        original_values.entry(*tag).or_default().insert(clean(text));
    }
    let original_pixels = pixel_bytes(&original);

    let outcome = deidentify(original, config).map_err(|e| format!("deidentify: {e}"))?;
    let name = format!("{:016x}.dcm", fxhash(path.to_string_lossy().as_bytes()));
    let out_path = out_dir.join(name);
    outcome
        .object
        .write_to_file(&out_path)
        .map_err(|e| format!("write: {e}"))?;
    let written = open(&out_path, ReadDepth::Full).map_err(|e| format!("re-read: {e}"))?;

    let mut problems = Vec::new();
    let mut out_elements = Vec::new();
    walk(&written, &mut out_elements);
    for (tag, _, text) in &out_elements {
        if tag.group() % 2 == 1 {
            problems.push(format!("private attribute {tag} kept"));
            continue;
        }
        let value = clean(text);
        match reference.action(*tag) {
            Some("X") => problems.push(format!("{tag} must be removed (X)")),
            Some(a) if a != "K" && a != "C" && !value.is_empty() => {
                let was = original_values.get(tag);
                if was.is_some_and(|w| w.contains(&value)) {
                    problems.push(format!(
                        "{tag} ({a}) still holds its original value {value:?}"
                    ));
                }
            }
            _ => {}
        }
        for id in identifying.leaks(&value) {
            problems.push(format!("{tag} holds the original identifying value {id:?}"));
        }
    }
    for value in meta_values(&written) {
        for id in identifying.leaks(&value) {
            problems.push(format!(
                "file meta holds the original identifying value {id:?}"
            ));
        }
    }
    if outcome.burned_in.is_none() && !same_pixels(&original_pixels, &pixel_bytes(&written)) {
        problems.push("pixel data changed in an image not flagged for burned-in text".into());
    }
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        return Err(problems.join("; "));
    }
    Ok(FileReport {
        flagged: outcome.burned_in.is_some(),
        written: true,
    })
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Equal pixel data, allowing the padding byte a writer adds to an odd-length value (PS3.5
/// 7.1.1: values have even length).
fn same_pixels(original: &Option<Vec<u8>>, written: &Option<Vec<u8>>) -> bool {
    match (original, written) {
        (Some(a), Some(b)) if b.len() == a.len() + 1 => b.starts_with(a) && b.last() == Some(&0),
        (a, b) => a == b,
    }
}

/// Pixel data as bytes: native values, or the fragments of encapsulated data.
fn pixel_bytes(obj: &DicomObject) -> Option<Vec<u8>> {
    let e = obj.get(tags::PIXEL_DATA)?;
    Some(match e.value() {
        Value::PixelSequence(seq) => seq.fragments().iter().flatten().copied().collect(),
        Value::Primitive(p) => p.to_bytes().to_vec(),
        Value::Sequence(_) => Vec::new(),
    })
}

/// The DICOM files of the shared data: those the decoding outcomes table of voxide-dicom says
/// are readable DICOM, and every file of the IBSI soft-tissue-sarcoma set. Files that table
/// calls unreadable are returned separately: de-identifying them must fail cleanly.
fn shared_dicom_files() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let outcomes =
        voxide_testdata::workspace_root().join("crates/voxide-dicom/tests/data/dicom_outcomes.tsv");
    let text = std::fs::read_to_string(&outcomes).unwrap();
    let dicom_dir = voxide_testdata::data("dicom");
    let (mut readable, mut unreadable) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut cells = line.split('\t');
        let (path, outcome) = (cells.next().unwrap(), cells.next().unwrap_or(""));
        match outcome {
            "decoded" | "no-pixel-data" | "undecodable" => readable.push(dicom_dir.join(path)),
            "unreadable" => unreadable.push(dicom_dir.join(path)),
            _ => {}
        }
    }
    let sts = voxide_testdata::data("multimodal/ibsi-sts");
    let mut count = 0;
    for entry in walkdir::WalkDir::new(&sts).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "dcm") {
            readable.push(entry.into_path());
            count += 1;
        }
    }
    assert!(
        count > 500,
        "the ibsi-sts series are missing under {}",
        sts.display()
    );
    (readable, unreadable)
}

fn test_config(options: Options) -> Config {
    Config::new(options, DeidKey::new(&[7u8; 32]).unwrap())
}

#[test]
fn basic_profile_leaves_no_identifier_in_any_shared_file() {
    let reference = reference_table();
    let (files, unreadable) = shared_dicom_files();
    assert!(files.len() > 1100, "{} files", files.len());
    let out = tempfile::tempdir().unwrap();
    let config = test_config(Options::default());
    let results: Vec<(PathBuf, Result<FileReport, String>)> = files
        .par_iter()
        .map(|p| (p.clone(), check_file(p, out.path(), &config, &reference)))
        .collect();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(p, r)| r.as_ref().err().map(|e| format!("{}: {e}", p.display())))
        .collect();
    // Problems counted by kind (the same leak in many files shows once, with its count).
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for f in &failures {
        let problems = f.rsplit_once(".dcm: ").map_or(f.as_str(), |x| x.1);
        for problem in problems.split("; ") {
            *kinds.entry(problem.to_string()).or_default() += 1;
        }
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n:5} {k}")).collect();
    for f in &failures {
        eprintln!("{f}");
    }
    let first: Vec<&String> = failures.iter().take(10).collect();
    assert!(
        failures.is_empty(),
        "{} of {} files fail; problems (files):\n{}\nfirst files:\n{first:#?}",
        failures.len(),
        files.len(),
        kinds.join("\n")
    );
    // Ultrasound and secondary capture screens of deid-data are flagged, CT slices are not.
    let flagged: HashSet<String> = results
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|r| r.flagged))
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in ["GREYSCALE_IMAGE.dcm", "RGB_IMAGE.dcm", "image1.dcm"] {
        assert!(flagged.contains(name), "{name} not flagged");
    }
    assert!(flagged.len() < files.len() / 4, "{} flagged", flagged.len());

    // Files that are not well-formed DICOM are refused before anything is written.
    for path in &unreadable {
        assert!(open(path, ReadDepth::Full).is_err(), "{}", path.display());
    }

    // Every output is valid DICOM for dcmtk.
    let written: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let dicomdirs = results
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|r| !r.written))
        .count();
    assert_eq!(
        dicomdirs, 7,
        "the DICOMDIRs of pydicom's test files are refused"
    );
    assert_eq!(written.len() + dicomdirs, files.len());
    for chunk in written.chunks(200) {
        let result = Command::new("dcmdump")
            .arg("-q")
            .args(chunk)
            .output()
            .expect("dcmdump runs (dcmtk is installed by scripts/setup-test.sh)");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(
            result.status.success() && !stderr.contains("E: "),
            "dcmdump refuses an output: {stderr}"
        );
    }
}

#[test]
fn modified_dates_move_by_one_offset_per_patient_and_uids_stay_linked() {
    let options = Options::parse("basic,retain-long-modified-dates,clean-descriptors").unwrap();
    let config = test_config(options);
    let sts = voxide_testdata::data("multimodal/ibsi-sts");
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&sts)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    assert!(files.len() > 500);
    let key = DeidKey::new(&[7u8; 32]).unwrap();
    let get = |o: &InMemDicomObject, t| {
        o.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| clean(&s))
            .unwrap_or_default()
    };
    let pairs: Vec<(String, String, String, String, String, String)> = files
        .par_iter()
        .map(|p| {
            let original = open(p, ReadDepth::Header).unwrap();
            let fields = (
                get(&original, tags::PATIENT_ID),
                get(&original, tags::STUDY_DATE),
                get(&original, tags::SERIES_INSTANCE_UID),
            );
            let out = deidentify(original, &config).unwrap().object;
            (
                fields.0,
                fields.1,
                fields.2,
                get(&out, tags::STUDY_DATE),
                get(&out, tags::SERIES_INSTANCE_UID),
                get(&out, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED),
            )
        })
        .collect();
    let mut series_map: HashMap<String, String> = HashMap::new();
    let mut patients = HashSet::new();
    for (patient, date, series, new_date, new_series, temporal) in &pairs {
        patients.insert(patient.clone());
        assert_eq!(temporal, "MODIFIED");
        let expected = voxide_deid::shift_date(date, key.date_offset_days(patient)).unwrap();
        assert_eq!(new_date, &expected, "patient {patient}");
        assert_ne!(new_date, date);
        // One original series, one new series UID; never the original.
        let mapped = series_map
            .entry(series.clone())
            .or_insert_with(|| new_series.clone());
        assert_eq!(mapped, new_series);
        assert_ne!(series, new_series);
    }
    let distinct: HashSet<&String> = series_map.values().collect();
    assert_eq!(
        distinct.len(),
        series_map.len(),
        "two series mapped onto one UID"
    );
    assert!(!patients.is_empty());

    // Another key: other UIDs.
    let other = Config::new(Options::default(), DeidKey::new(&[8u8; 32]).unwrap());
    let original = open(&files[0], ReadDepth::Header).unwrap();
    let a = deidentify(original.clone(), &config).unwrap().object;
    let b = deidentify(original, &other).unwrap().object;
    assert_ne!(
        get(&a, tags::SOP_INSTANCE_UID),
        get(&b, tags::SOP_INSTANCE_UID)
    );
    assert_eq!(
        a.meta()
            .media_storage_sop_instance_uid
            .trim_end_matches('\0'),
        get(&a, tags::SOP_INSTANCE_UID)
    );
}

#[test]
fn masks_blank_their_rectangles_in_flagged_images_only() {
    let path = voxide_testdata::data("dicom/deid-data/ultrasounds/GREYSCALE_IMAGE.dcm");
    let original = open(&path, ReadDepth::Full).unwrap();
    let before = voxide_dicom::decode(&original, &path).unwrap();
    let mut config = test_config(Options::default());
    config.masks.push(voxide_deid::MaskRule {
        modality: Some("US".into()),
        manufacturer: None,
        rows: before.rows as u16,
        columns: before.columns as u16,
        rects: vec![[10, 20, 100, 50]],
    });
    let outcome = deidentify(original, &config).unwrap();
    assert!(outcome.burned_in.is_some() && outcome.masked);
    let after = voxide_dicom::decode(&outcome.object, &path).unwrap();
    let (rows, cols, spp) = (before.rows, before.columns, before.samples_per_pixel);
    let bps = usize::from(before.bits_allocated / 8);
    let mut changed_outside = 0;
    let mut nonzero_inside = 0;
    for r in 0..rows {
        for c in 0..cols {
            let inside = (10..110).contains(&c) && (20..70).contains(&r);
            for s in 0..spp {
                let at = ((r * cols + c) * spp + s) * bps;
                let (x, y) = (&before.bytes()[at..at + bps], &after.bytes()[at..at + bps]);
                if inside && y.iter().any(|&b| b != 0) {
                    nonzero_inside += 1;
                }
                if !inside && x != y {
                    changed_outside += 1;
                }
            }
        }
    }
    assert_eq!((nonzero_inside, changed_outside), (0, 0));
    // A CT slice is not flagged: no rule applies, its pixel data is the original's.
    let ct = voxide_testdata::data("dicom/pydicom/CT_small.dcm");
    let original = open(&ct, ReadDepth::Full).unwrap();
    let pixels = pixel_bytes(&original);
    let outcome = deidentify(original, &config).unwrap();
    assert!(outcome.burned_in.is_none() && !outcome.masked);
    assert_eq!(pixel_bytes(&outcome.object), pixels);
}

#[test]
fn the_meta_group_never_keeps_the_original_instance_uid() {
    let path = voxide_testdata::data("dicom/pydicom/CT_small.dcm");
    let mut original = open(&path, ReadDepth::Full).unwrap();
    let uid = original.meta().media_storage_sop_instance_uid.clone();
    // A data set without its SOP Instance UID: only the meta group names the instance.
    original.remove_element(tags::SOP_INSTANCE_UID);
    let out = deidentify(original, &test_config(Options::default()))
        .unwrap()
        .object;
    let meta_uid = out
        .meta()
        .media_storage_sop_instance_uid
        .trim_end_matches('\0')
        .to_string();
    assert_ne!(meta_uid, uid.trim_end_matches('\0'));
    assert!(meta_uid.starts_with("2.25."), "{meta_uid}");
}
