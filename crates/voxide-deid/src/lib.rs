//! DICOM de-identification after PS3.15 Annex E.
//!
//! [`deidentify`] applies the Basic Application Level Confidentiality Profile (Table E.1-1, all
//! 621 rows, embedded from the standard's 2024b edition) to one parsed object, with any of its
//! options:
//!
//! | option | effect |
//! |---|---|
//! | Retain Longitudinal Temporal Information, Full Dates | dates and times kept |
//! | … with Modified Dates | every date moved by the same per-patient number of days |
//! | Retain Patient Characteristics | sex, age, size, weight, … kept |
//! | Retain Device Identity | device serial numbers, station names, … kept |
//! | Retain Institution Identity | institution names and addresses kept |
//! | Retain UIDs | UIDs kept |
//! | Retain Safe Private | private attributes on the allow-list kept |
//! | Clean Descriptors | free-text descriptions kept, scrubbed of the object's identifiers |
//! | Clean Structured Content | SR content kept, processed item by item |
//! | Clean Graphics | graphic annotations and overlays kept, their text processed |
//!
//! What no row of the table covers is handled conservatively: every person name is emptied,
//! every date follows the dates option, every UID that is not a registered DICOM UID or a class
//! UID is replaced, and every private attribute is removed unless its creator and element are on
//! the allow-list. Sequences are processed recursively with the same rules.
//!
//! Replacements are keyed ([`DeidKey`]): UIDs become `2.25.` UUID-style UIDs derived from the
//! original under the key, identifiers become `VX…` pseudonyms, dates move by an offset derived
//! from the Patient ID. The same input and key always give the same output, so studies of one
//! patient stay linked across runs and exports; nothing can be reversed without the key.
//!
//! Burned-in annotation is flagged ([`Outcome::burned_in`]) when Burned In Annotation is `YES`,
//! for ultrasound and secondary capture images unless it is `NO`, and for configured
//! manufacturers; a flagged image whose size matches a [`MaskRule`] has the rule's rectangles
//! blanked (pixel data decoded to native Explicit VR Little Endian first). Pixel data of any other
//! image is never touched.
//!
//! The crate does no IO: the CLI and the server read and write the files.

mod pixels;
mod pseudonym;
mod table;

use std::collections::{HashMap, HashSet};

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Deserialize;
use voxide_dicom::{str_of, DicomObject};

pub use pseudonym::{shift_date, DeidKey, MIN_KEY_BYTES};
pub use table::{Action, Row};

/// What can go wrong while de-identifying.
#[derive(Debug, thiserror::Error)]
pub enum DeidError {
    /// The key is unusable.
    #[error("de-identification key: {0}")]
    Key(String),
    /// A profile or option name is not known.
    #[error("{0}")]
    Profile(String),
    /// Masking burned-in annotation failed (the pixel data could not be decoded or is not laid
    /// out as its attributes say).
    #[error("cannot mask burned-in annotation: {0}")]
    Mask(String),
    /// An object that cannot be de-identified on its own.
    #[error("{0}")]
    Unsupported(String),
    /// Decoding pixel data for masking failed.
    #[error(transparent)]
    Dicom(#[from] voxide_dicom::DicomError),
}

/// How dates and times are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dates {
    /// The Basic Profile: dates removed or emptied.
    #[default]
    Remove,
    /// Retain Longitudinal Temporal Information with Modified Dates: every date of a patient
    /// moves by the same keyed offset; times are kept.
    Shift,
    /// Retain Longitudinal Temporal Information with Full Dates.
    Keep,
}

/// The Basic Profile's options (PS3.15 E.3). The default is the Basic Profile alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Dates and times.
    pub dates: Dates,
    /// Retain Patient Characteristics Option.
    pub retain_patient_characteristics: bool,
    /// Retain Device Identity Option.
    pub retain_device_identity: bool,
    /// Retain Institution Identity Option.
    pub retain_institution_identity: bool,
    /// Retain UIDs Option.
    pub retain_uids: bool,
    /// Retain Safe Private Option (private attributes on [`Config::private_allow`]).
    pub retain_safe_private: bool,
    /// Clean Descriptors Option.
    pub clean_descriptors: bool,
    /// Clean Structured Content Option.
    pub clean_structured_content: bool,
    /// Clean Graphics Option.
    pub clean_graphics: bool,
}

/// The option names [`Options::parse`] accepts, with what each means.
pub const OPTION_NAMES: [(&str, &str); 10] = [
    (
        "retain-long-full-dates",
        "Retain Longitudinal Temporal Information with Full Dates",
    ),
    (
        "retain-long-modified-dates",
        "Retain Longitudinal Temporal Information with Modified Dates",
    ),
    (
        "retain-patient-characteristics",
        "Retain Patient Characteristics",
    ),
    ("retain-device-identity", "Retain Device Identity"),
    ("retain-institution-identity", "Retain Institution Identity"),
    ("retain-uids", "Retain UIDs"),
    ("retain-safe-private", "Retain Safe Private"),
    ("clean-descriptors", "Clean Descriptors"),
    ("clean-structured-content", "Clean Structured Content"),
    ("clean-graphics", "Clean Graphics"),
];

impl Options {
    /// Parses a profile: `basic`, optionally followed by option names, comma-separated
    /// (`basic,retain-long-modified-dates,clean-descriptors`). `basic` may be left out.
    pub fn parse(profile: &str) -> Result<Options, DeidError> {
        let mut options = Options::default();
        for name in profile.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "basic" => {}
                "retain-long-full-dates" => options.dates = Dates::Keep,
                "retain-long-modified-dates" => options.dates = Dates::Shift,
                "retain-patient-characteristics" => options.retain_patient_characteristics = true,
                "retain-device-identity" => options.retain_device_identity = true,
                "retain-institution-identity" => options.retain_institution_identity = true,
                "retain-uids" => options.retain_uids = true,
                "retain-safe-private" => options.retain_safe_private = true,
                "clean-descriptors" => options.clean_descriptors = true,
                "clean-structured-content" => options.clean_structured_content = true,
                "clean-graphics" => options.clean_graphics = true,
                other => {
                    let known: Vec<&str> = OPTION_NAMES.iter().map(|(n, _)| *n).collect();
                    return Err(DeidError::Profile(format!(
                        "unknown de-identification option '{other}'; the profile is 'basic' \
                         followed by any of: {}",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(options)
    }

    /// The profile and options as PS3.16 CID 7050 codes (value, meaning), Basic Profile first.
    pub fn method_codes(&self) -> Vec<(&'static str, &'static str)> {
        let mut codes = vec![("113100", "Basic Application Confidentiality Profile")];
        let flags = [
            (
                self.dates == Dates::Keep,
                "113106",
                "Retain Longitudinal Temporal Information Full Dates Option",
            ),
            (
                self.dates == Dates::Shift,
                "113107",
                "Retain Longitudinal Temporal Information Modified Dates Option",
            ),
            (
                self.retain_patient_characteristics,
                "113108",
                "Retain Patient Characteristics Option",
            ),
            (
                self.retain_device_identity,
                "113109",
                "Retain Device Identity Option",
            ),
            (
                self.retain_institution_identity,
                "113112",
                "Retain Institution Identity Option",
            ),
            (self.retain_uids, "113110", "Retain UIDs Option"),
            (
                self.retain_safe_private,
                "113111",
                "Retain Safe Private Option",
            ),
            (self.clean_descriptors, "113105", "Clean Descriptors Option"),
            (
                self.clean_structured_content,
                "113104",
                "Clean Structured Content Option",
            ),
            (self.clean_graphics, "113103", "Clean Graphics Option"),
        ];
        codes.extend(flags.iter().filter(|f| f.0).map(|f| (f.1, f.2)));
        codes
    }
}

/// A private attribute kept by the Retain Safe Private option: its group, its private creator
/// and the low byte of its element number (the block's byte varies from file to file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PrivateTag {
    /// Odd group number.
    pub group: u16,
    /// Private Creator value, compared after trimming padding.
    pub creator: String,
    /// Element number within the block (`0x00`–`0xFF`).
    pub element: u8,
}

impl PrivateTag {
    /// Parses `GGGG,Creator,EE` (group and element in hexadecimal), e.g.
    /// `0019,SIEMENS MR HEADER,0C`.
    pub fn parse(text: &str) -> Result<PrivateTag, DeidError> {
        let bad = || {
            DeidError::Profile(format!(
                "bad private attribute '{text}': write GROUP,CREATOR,ELEMENT with the odd group \
                 and the element's low byte in hexadecimal, e.g. 0019,SIEMENS MR HEADER,0C"
            ))
        };
        let mut parts = text.splitn(3, ',');
        let group =
            u16::from_str_radix(parts.next().ok_or_else(bad)?.trim(), 16).map_err(|_| bad())?;
        let creator = parts.next().ok_or_else(bad)?.trim().to_string();
        let element =
            u8::from_str_radix(parts.next().ok_or_else(bad)?.trim(), 16).map_err(|_| bad())?;
        if group % 2 == 0 || creator.is_empty() {
            return Err(bad());
        }
        Ok(PrivateTag {
            group,
            creator,
            element,
        })
    }
}

/// Rectangles to blank in flagged images of one size (and optionally one modality and
/// manufacturer), e.g. the patient banner of an ultrasound machine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MaskRule {
    /// Modality the rule applies to (any when absent).
    #[serde(default)]
    pub modality: Option<String>,
    /// Manufacturer the rule applies to, compared case-insensitively (any when absent).
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// Image rows.
    pub rows: u16,
    /// Image columns.
    pub columns: u16,
    /// Rectangles as `[x, y, width, height]` in pixels, x along columns.
    pub rects: Vec<[u32; 4]>,
}

/// Everything [`deidentify`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The profile's options.
    pub options: Options,
    /// The secret key of all keyed replacements.
    pub key: DeidKey,
    /// Private attributes kept under the Retain Safe Private option.
    pub private_allow: Vec<PrivateTag>,
    /// Masks for burned-in annotation.
    pub masks: Vec<MaskRule>,
    /// Manufacturers whose images are flagged as carrying burned-in annotation (compared
    /// case-insensitively, as substrings).
    pub burned_in_manufacturers: Vec<String>,
}

impl Config {
    /// The Basic Profile with `options` under `key`, no allow-list, no masks.
    pub fn new(options: Options, key: DeidKey) -> Config {
        Config {
            options,
            key,
            private_allow: Vec::new(),
            masks: Vec::new(),
            burned_in_manufacturers: Vec::new(),
        }
    }
}

/// How many attributes each action touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Removed (X), private attributes excluded.
    pub removed: usize,
    /// Emptied (Z).
    pub emptied: usize,
    /// Replaced by a dummy or pseudonym (D).
    pub replaced: usize,
    /// UIDs replaced (U).
    pub uids: usize,
    /// Dates moved by the patient's offset.
    pub dates_shifted: usize,
    /// Descriptors whose text was scrubbed of an identifier.
    pub scrubbed: usize,
    /// Private attributes removed.
    pub private_removed: usize,
}

/// The result of de-identifying one object.
#[derive(Debug)]
pub struct Outcome {
    /// The de-identified object (its file meta group updated).
    pub object: DicomObject,
    /// Why the image may carry burned-in identifying text, if it may.
    pub burned_in: Option<String>,
    /// Whether a [`MaskRule`] blanked part of the pixel data.
    pub masked: bool,
    /// What was done.
    pub counts: Counts,
}

/// UIDs of classes and coding resources, never instance identifiers: kept when the table does not
/// list them.
const CLASS_UID_TAGS: [Tag; 12] = [
    tags::SOP_CLASS_UID,
    tags::REFERENCED_SOP_CLASS_UID,
    tags::MEDIA_STORAGE_SOP_CLASS_UID,
    tags::TRANSFER_SYNTAX_UID,
    tags::IMPLEMENTATION_CLASS_UID,
    tags::RELATED_GENERAL_SOP_CLASS_UID,
    tags::ORIGINAL_SPECIALIZED_SOP_CLASS_UID,
    tags::CODING_SCHEME_UID,
    tags::MAPPING_RESOURCE_UID,
    tags::CONTEXT_UID,
    tags::REFERENCED_SOP_CLASS_UID_IN_FILE,
    tags::REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE,
];

/// Media Storage Directory Storage: a DICOMDIR.
const MEDIA_STORAGE_DIRECTORY: &str = "1.2.840.10008.1.3.10";

/// Root of the UIDs the DICOM standard itself registers (SOP classes, transfer syntaxes, ...).
const DICOM_UID_ROOT: &str = "1.2.840.10008.";

/// De-identifies one object under `config`.
pub fn deidentify(obj: DicomObject, config: &Config) -> Result<Outcome, DeidError> {
    if obj
        .meta()
        .media_storage_sop_class_uid
        .trim_end_matches('\0')
        == MEDIA_STORAGE_DIRECTORY
    {
        return Err(DeidError::Unsupported(
            "a DICOMDIR indexes files by their paths and patient identifiers: de-identify the \
             files it lists, then build a new DICOMDIR over the copies"
                .into(),
        ));
    }
    let patient_id = str_of(&obj, tags::PATIENT_ID).unwrap_or_default();
    let burned_in = burned_in_reason(&obj, config);
    let mut ctx = Context {
        config,
        offset_days: config.key.date_offset_days(&patient_id),
        patient_pseudonym: config.key.identifier(&patient_id, 16),
        identifiers: identifiers(&obj),
        counts: Counts::default(),
    };
    let mut meta = obj.meta().clone();
    let mut dataset = ctx.dataset(obj.into_inner());

    let mut masked = false;
    if burned_in.is_some() {
        if let Some(rule) = pixels::matching_rule(&dataset, &config.masks) {
            let rule = rule.clone();
            let mut file = dataset.with_exact_meta(meta);
            file = pixels::mask(file, &rule)?;
            meta = file.meta().clone();
            dataset = file.into_inner();
            masked = true;
        }
    }

    mark_deidentified(&mut dataset, &config.options, masked);
    // The meta group names the instance too; without a SOP Instance UID in the data set, its
    // own UID is replaced the same way, so the original never survives there.
    meta.media_storage_sop_instance_uid = match str_of(&dataset, tags::SOP_INSTANCE_UID) {
        Some(uid) => uid,
        None if config.options.retain_uids => meta.media_storage_sop_instance_uid.clone(),
        None => config.key.uid(&meta.media_storage_sop_instance_uid),
    };
    meta.source_application_entity_title = None;
    meta.sending_application_entity_title = None;
    meta.receiving_application_entity_title = None;
    meta.private_information_creator_uid = None;
    meta.private_information = None;
    meta.update_information_group_length();
    Ok(Outcome {
        object: dataset.with_exact_meta(meta),
        burned_in,
        masked,
        counts: ctx.counts,
    })
}

/// Why an image may carry burned-in text (PS3.15 E.3.1: Burned In Annotation, and the modality
/// and SOP class rules of practice: ultrasound and secondary capture screens routinely do).
fn burned_in_reason(obj: &InMemDicomObject, config: &Config) -> Option<String> {
    obj.get(tags::PIXEL_DATA)?;
    let flag = str_of(obj, tags::BURNED_IN_ANNOTATION).map(|s| s.to_ascii_uppercase());
    if flag.as_deref() == Some("YES") {
        return Some("Burned In Annotation (0028,0301) is YES".into());
    }
    let modality = str_of(obj, tags::MODALITY).unwrap_or_default();
    let sop_class = str_of(obj, tags::SOP_CLASS_UID).unwrap_or_default();
    let manufacturer = str_of(obj, tags::MANUFACTURER)
        .unwrap_or_default()
        .to_lowercase();
    if let Some(m) = config
        .burned_in_manufacturers
        .iter()
        .find(|m| !m.is_empty() && manufacturer.contains(&m.to_lowercase()))
    {
        return Some(format!(
            "images of manufacturer '{m}' are flagged by configuration"
        ));
    }
    if flag.as_deref() == Some("NO") {
        return None;
    }
    let ultrasound = modality == "US"
        || sop_class.starts_with("1.2.840.10008.5.1.4.1.1.6.")
        || sop_class.starts_with("1.2.840.10008.5.1.4.1.1.3.");
    if ultrasound {
        return Some(
            "ultrasound image without Burned In Annotation = NO: ultrasound screens carry text"
                .into(),
        );
    }
    if sop_class == "1.2.840.10008.5.1.4.1.1.7"
        || sop_class.starts_with("1.2.840.10008.5.1.4.1.1.7.")
    {
        return Some(
            "secondary capture image without Burned In Annotation = NO: screen captures carry text"
                .into(),
        );
    }
    None
}

/// What identifies the patient in an object, to scrub from the text it keeps: the words of every
/// person name, identifier and date (at least three characters), and whole institution names.
#[derive(Debug, Default)]
struct Identifiers {
    /// Lower-case words.
    words: HashSet<String>,
    /// Lower-case (ASCII) phrases, longest first.
    phrases: Vec<String>,
}

/// Attributes whose words identify the patient (besides person names and dates).
const IDENTIFYING_WORDS: [Tag; 6] = [
    tags::PATIENT_ID,
    Tag(0x0010, 0x1000), // Other Patient IDs (retired, still sent)
    tags::ACCESSION_NUMBER,
    Tag(0x0010, 0x1090), // Medical Record Locator (retired, still sent)
    tags::PATIENT_ADDRESS,
    tags::ISSUER_OF_PATIENT_ID,
];

/// Attributes identifying the institution, matched as whole phrases (their single words, such
/// as "Hospital", are common words elsewhere).
const IDENTIFYING_PHRASES: [Tag; 4] = [
    tags::INSTITUTION_NAME,
    tags::INSTITUTION_ADDRESS,
    tags::INSTITUTIONAL_DEPARTMENT_NAME,
    tags::STATION_NAME,
];

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
}

fn collect_identifiers(ds: &InMemDicomObject, ids: &mut Identifiers) {
    for element in ds.iter() {
        if let Value::Sequence(seq) = element.value() {
            for item in seq.items() {
                collect_identifiers(item, ids);
            }
            continue;
        }
        let tag = element.tag();
        let vr = element.vr();
        let wanted = matches!(vr, VR::PN | VR::DA | VR::DT)
            || IDENTIFYING_WORDS.contains(&tag)
            || IDENTIFYING_PHRASES.contains(&tag);
        if !wanted {
            continue;
        }
        let Ok(text) = element.to_str() else { continue };
        match vr {
            VR::DA | VR::DT => ids.words.extend(
                text.split(['\\', '-'])
                    .filter_map(|v| v.trim().get(..8).map(str::to_string))
                    .filter(|d| d.bytes().all(|b| b.is_ascii_digit())),
            ),
            _ if IDENTIFYING_PHRASES.contains(&tag) => ids.phrases.extend(
                text.split('\\')
                    .map(|v| v.trim().to_ascii_lowercase())
                    .filter(|v| v.len() >= 3),
            ),
            _ => ids.words.extend(words(&text)),
        }
    }
}

fn identifiers(obj: &InMemDicomObject) -> Identifiers {
    let mut ids = Identifiers::default();
    collect_identifiers(obj, &mut ids);
    ids.phrases
        .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    ids.phrases.dedup();
    ids
}

struct Context<'a> {
    config: &'a Config,
    offset_days: i64,
    patient_pseudonym: String,
    identifiers: Identifiers,
    counts: Counts,
}

type Element = DataElement<InMemDicomObject>;

impl Context<'_> {
    fn dataset(&mut self, ds: InMemDicomObject) -> InMemDicomObject {
        // Private creators of this dataset's blocks: (group, block byte) → creator.
        let mut creators: HashMap<(u16, u8), (String, Element)> = HashMap::new();
        let mut elements = Vec::new();
        for element in ds {
            let tag = element.tag();
            if tag.group() % 2 == 1 && (0x10..=0xFF).contains(&tag.element()) {
                let creator = element
                    .to_str()
                    .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_string())
                    .unwrap_or_default();
                creators.insert((tag.group(), tag.element() as u8), (creator, element));
            } else {
                elements.push(element);
            }
        }
        let mut kept_blocks = HashSet::new();
        let mut out = Vec::with_capacity(elements.len());
        for element in elements {
            let tag = element.tag();
            if tag.element() == 0 {
                continue; // group lengths: retired, recomputed by writers that want them
            }
            if tag.group() % 2 == 1 {
                let block = (tag.group(), (tag.element() >> 8) as u8);
                let creator = creators.get(&block).map(|c| c.0.as_str());
                if self.private_allowed(tag, creator) {
                    kept_blocks.insert(block);
                    out.push(self.keep(element));
                } else {
                    self.counts.private_removed += 1;
                }
                continue;
            }
            if let Some(e) = self.element(element) {
                out.push(e);
            }
        }
        for (block, (_, element)) in creators {
            if kept_blocks.contains(&block) {
                out.push(element);
            } else {
                self.counts.private_removed += 1;
            }
        }
        InMemDicomObject::from_element_iter(out)
    }

    fn private_allowed(&self, tag: Tag, creator: Option<&str>) -> bool {
        let options = &self.config.options;
        if table::private_row().action(options) == Action::Remove {
            return false;
        }
        let Some(creator) = creator else {
            return false;
        };
        self.config.private_allow.iter().any(|p| {
            p.group == tag.group() && p.element == tag.element() as u8 && p.creator == creator
        })
    }

    /// The action for a standard attribute: the table's, or for attributes it does not list, the
    /// conservative rules of the crate documentation.
    fn action(&self, element: &Element) -> Action {
        let options = &self.config.options;
        if let Some(row) = table::row(element.tag()) {
            return row.action(options);
        }
        match element.vr() {
            VR::PN => Action::Zero,
            VR::DA | VR::DT => table::row(tags::STUDY_DATE)
                .expect("Study Date is in Table E.1-1")
                .action(options),
            VR::UI if !options.retain_uids && !CLASS_UID_TAGS.contains(&element.tag()) => {
                let registered = strings_of(element)
                    .iter()
                    .all(|u| u.starts_with(DICOM_UID_ROOT));
                if registered {
                    Action::Keep
                } else {
                    Action::Uid
                }
            }
            _ => Action::Keep,
        }
    }

    fn element(&mut self, element: Element) -> Option<Element> {
        let element = with_dictionary_vr(element);
        let tag = element.tag();
        let vr = element.vr();
        match self.action(&element) {
            Action::Keep => Some(self.keep(element)),
            Action::Remove => {
                self.counts.removed += 1;
                None
            }
            Action::Zero => {
                self.counts.emptied += 1;
                if tag == tags::PATIENT_NAME {
                    // A non-empty dummy is allowed; the patient's pseudonym keeps exports of one
                    // patient recognisable as one person.
                    return Some(text(tag, VR::PN, &self.patient_pseudonym));
                }
                Some(empty(tag, vr))
            }
            // A sequence to replace by "dummy" content (Content Sequence, observer and
            // identification sequences): without the Clean options nothing in it can be trusted,
            // and an empty sequence is the dummy that cannot leak.
            Action::Dummy if vr == VR::SQ => {
                self.counts.emptied += 1;
                Some(empty(tag, VR::SQ))
            }
            Action::Dummy => {
                self.counts.replaced += 1;
                Some(self.dummy(element))
            }
            Action::Uid => {
                self.counts.uids += 1;
                Some(self.uid(element))
            }
            Action::Clean => Some(self.clean(element)),
        }
    }

    /// Keeps an element; the items of a sequence are processed, and text that holds one of the
    /// object's identifiers as a word is scrubbed (a patient name in a Sequence Name, an ID in a
    /// description: the table keeps these attributes, their values can still identify).
    fn keep(&mut self, element: Element) -> Element {
        if is_text(element.vr()) {
            return self.scrubbed(element);
        }
        let (header, value) = element.into_parts();
        match value {
            Value::Sequence(seq) => {
                let items: Vec<InMemDicomObject> = seq
                    .into_items()
                    .into_iter()
                    .map(|item| self.dataset(item))
                    .collect();
                DataElement::new(header.tag, VR::SQ, DataSetSequence::from(items))
            }
            other => DataElement::new(header.tag, header.vr, other),
        }
    }

    fn dummy(&self, element: Element) -> Element {
        let tag = element.tag();
        let vr = element.vr();
        let original = element.to_str().map(|s| s.to_string()).unwrap_or_default();
        let pseudonym = |max: usize| self.config.key.identifier(&original, max.min(16));
        match vr {
            VR::LO | VR::SH | VR::PN | VR::CS | VR::AE | VR::LT | VR::ST | VR::UT | VR::UC => {
                let value = if tag == tags::PATIENT_ID {
                    self.patient_pseudonym.clone()
                } else {
                    pseudonym(16)
                };
                text(tag, vr, &value)
            }
            VR::DA => text(tag, vr, "19000101"),
            VR::DT => text(tag, vr, "19000101000000"),
            VR::TM => text(tag, vr, "000000"),
            VR::AS => text(tag, vr, "000D"),
            VR::IS | VR::DS => text(tag, vr, "0"),
            VR::UI => self.uid(element),
            VR::US => DataElement::new(tag, vr, PrimitiveValue::from(0u16)),
            VR::SS => DataElement::new(tag, vr, PrimitiveValue::from(0i16)),
            VR::UL => DataElement::new(tag, vr, PrimitiveValue::from(0u32)),
            VR::SL => DataElement::new(tag, vr, PrimitiveValue::from(0i32)),
            VR::FL => DataElement::new(tag, vr, PrimitiveValue::from(0f32)),
            VR::FD => DataElement::new(tag, vr, PrimitiveValue::from(0f64)),
            _ => empty(tag, vr),
        }
    }

    fn uid(&self, element: Element) -> Element {
        let tag = element.tag();
        let values = strings_of(&element);
        let mapped: Vec<String> = values
            .iter()
            .map(|u| u.trim_end_matches(['\0', ' ']).trim())
            .filter(|u| !u.is_empty())
            .map(|u| self.config.key.uid(u))
            .collect();
        if mapped.is_empty() {
            return empty(tag, VR::UI);
        }
        DataElement::new(
            tag,
            VR::UI,
            PrimitiveValue::Strs(mapped.into_iter().collect()),
        )
    }

    fn clean(&mut self, element: Element) -> Element {
        let tag = element.tag();
        let vr = element.vr();
        match vr {
            VR::SQ => self.keep(element),
            VR::DA | VR::DT => match self.config.options.dates {
                Dates::Keep => element,
                Dates::Shift => {
                    let values = strings_of(&element);
                    let shifted: Option<Vec<String>> = values
                        .iter()
                        .map(|v| shift_value(v.trim(), self.offset_days))
                        .collect();
                    match shifted {
                        Some(s) => {
                            self.counts.dates_shifted += 1;
                            DataElement::new(tag, vr, PrimitiveValue::Strs(s.into_iter().collect()))
                        }
                        // Unreadable dates cannot be shifted; an empty value leaks nothing.
                        None => {
                            self.counts.emptied += 1;
                            empty(tag, vr)
                        }
                    }
                }
                Dates::Remove => {
                    self.counts.emptied += 1;
                    empty(tag, vr)
                }
            },
            vr if is_text(vr) => self.scrubbed(element),
            _ => element,
        }
    }
}

impl Context<'_> {
    /// The element with every word that is one of the object's identifiers replaced by `X`s.
    fn scrubbed(&mut self, element: Element) -> Element {
        let Ok(original) = element.to_str().map(|s| s.to_string()) else {
            return element;
        };
        let cleaned = scrub(&original, &self.identifiers);
        if cleaned == original {
            return element;
        }
        self.counts.scrubbed += 1;
        let tag = element.tag();
        let vr = element.vr();
        let values: Vec<String> = cleaned.split('\\').map(str::to_string).collect();
        DataElement::new(tag, vr, PrimitiveValue::Strs(values.into_iter().collect()))
    }
}

/// The values of a text element. Values stored as bytes (VR UN, or OB from a lax writer) are
/// decoded as text: `to_multi_str` would give one number per byte.
fn strings_of(element: &Element) -> Vec<String> {
    match element.value() {
        Value::Primitive(PrimitiveValue::U8(bytes)) => String::from_utf8_lossy(bytes)
            .trim_end_matches(['\0', ' '])
            .split('\\')
            .map(|s| s.trim().to_string())
            .collect(),
        _ => element
            .to_multi_str()
            .map(|v| v.to_vec())
            .unwrap_or_default(),
    }
}

/// A standard attribute received as UN (explicit VR files written without the dictionary) gets
/// its dictionary VR back when that VR is text, so that its value is de-identified as text.
fn with_dictionary_vr(element: Element) -> Element {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    if element.vr() != VR::UN || element.tag().group() % 2 == 1 {
        return element;
    }
    let Some(entry) = dicom_dictionary_std::StandardDataDictionary.by_tag(element.tag()) else {
        return element;
    };
    let vr = entry.vr().relaxed();
    if !(is_text(vr)
        || matches!(
            vr,
            VR::UI | VR::DA | VR::DT | VR::TM | VR::AS | VR::IS | VR::DS
        ))
    {
        return element;
    }
    let values = strings_of(&element);
    DataElement::new(
        element.tag(),
        vr,
        PrimitiveValue::Strs(values.into_iter().collect()),
    )
}

/// Text VRs whose values can hold names and identifiers.
fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::LO | VR::SH | VR::LT | VR::ST | VR::UT | VR::UC | VR::PN | VR::CS | VR::AE | VR::UR
    )
}

/// Shifts a DA or DT value, or a DA range `a-b`, by `days`; `None` when unreadable.
fn shift_value(value: &str, days: i64) -> Option<String> {
    if value.is_empty() {
        return Some(String::new());
    }
    if let Some((a, b)) = value
        .split_once('-')
        .filter(|(a, _)| a.len() == 8 || a.is_empty())
    {
        let a = if a.is_empty() {
            String::new()
        } else {
            shift_date(a, days)?
        };
        let b = if b.is_empty() {
            String::new()
        } else {
            shift_date(b, days)?
        };
        return Some(format!("{a}-{b}"));
    }
    shift_date(value, days)
}

/// Replaces, ignoring case, every identifying phrase found at word boundaries, then every word
/// (a run of letters and digits) that is an identifying word, by as many `X`s.
fn scrub(text: &str, ids: &Identifiers) -> String {
    let mut text = text.to_string();
    for phrase in &ids.phrases {
        let mut from = 0;
        while let Some(at) = text[from..].to_ascii_lowercase().find(phrase.as_str()) {
            let start = from + at;
            let end = start + phrase.len();
            let bounded = !text[..start]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
                && !text[end..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric);
            if bounded {
                text.replace_range(start..end, &"X".repeat(phrase.len()));
            }
            from = end;
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            if ids.words.contains(&word.to_lowercase()) {
                out.extend(std::iter::repeat_n('X', word.chars().count()));
            } else {
                out.push_str(word);
            }
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn text(tag: Tag, vr: VR, value: &str) -> Element {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

fn empty(tag: Tag, vr: VR) -> Element {
    if vr == VR::SQ {
        return DataElement::new(tag, VR::SQ, DataSetSequence::<InMemDicomObject>::empty());
    }
    DataElement::new(tag, vr, PrimitiveValue::Empty)
}

/// Records what was done: Patient Identity Removed, the method as text and as CID 7050 codes,
/// and whether dates were kept, moved or removed (PS3.15 E.1.1 and X.1).
fn mark_deidentified(ds: &mut InMemDicomObject, options: &Options, masked: bool) {
    let mut codes = options.method_codes();
    if masked {
        codes.push(("113101", "Clean Pixel Data Option"));
    }
    ds.put(text(tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES"));
    let methods: Vec<String> = std::iter::once(format!(
        "voxide {} PS3.15 E.1-1 2024b",
        env!("CARGO_PKG_VERSION")
    ))
    .chain(
        codes
            .iter()
            .map(|(_, meaning)| meaning.chars().take(64).collect()),
    )
    .collect();
    ds.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD,
        VR::LO,
        PrimitiveValue::Strs(methods.into_iter().collect()),
    ));
    let items: Vec<InMemDicomObject> = codes
        .iter()
        .map(|(value, meaning)| {
            InMemDicomObject::from_element_iter([
                text(tags::CODE_VALUE, VR::SH, value),
                text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM"),
                text(tags::CODE_MEANING, VR::LO, meaning),
            ])
        })
        .collect();
    ds.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(items),
    ));
    let temporal = match options.dates {
        Dates::Keep => "UNMODIFIED",
        Dates::Shift => "MODIFIED",
        Dates::Remove => "REMOVED",
    };
    ds.put(text(
        tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
        VR::CS,
        temporal,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_unknown_options_are_named() {
        let o = Options::parse("basic,retain-long-modified-dates,clean-descriptors").unwrap();
        assert_eq!(o.dates, Dates::Shift);
        assert!(o.clean_descriptors && !o.retain_uids);
        assert_eq!(Options::parse("basic").unwrap(), Options::default());
        let err = Options::parse("basic,retain-everything")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("retain-everything") && err.contains("retain-uids"),
            "{err}"
        );
        assert_eq!(o.method_codes().len(), 3);
    }

    #[test]
    fn scrub_replaces_identifying_words_and_phrases_ignoring_case() {
        let ids = Identifiers {
            words: ["doe", "12345", "mary"].map(String::from).into(),
            phrases: vec!["st. mary hospital".into()],
        };
        assert_eq!(
            scrub("CT of John Doe, MRN 12345", &ids),
            "CT of John XXX, MRN XXXXX"
        );
        assert_eq!(scrub("ORIGINAL\\PRIMARY", &ids), "ORIGINAL\\PRIMARY");
        assert_eq!(
            scrub("at St. Mary Hospital, ward 2", &ids),
            "at XXXXXXXXXXXXXXXXX, ward 2"
        );
        assert_eq!(scrub("nothing here", &ids), "nothing here");
    }

    #[test]
    fn private_tags_parse() {
        let p = PrivateTag::parse("0019,SIEMENS MR HEADER,0C").unwrap();
        assert_eq!((p.group, p.element), (0x0019, 0x0C));
        assert!(PrivateTag::parse("0018,X,0C").is_err());
        assert!(PrivateTag::parse("0019,X").is_err());
    }

    #[test]
    fn date_ranges_shift() {
        assert_eq!(
            shift_value("20100101-20100201", -1).as_deref(),
            Some("20091231-20100131")
        );
        assert_eq!(shift_value("", -1).as_deref(), Some(""));
    }
}
