//! DICOM JSON (PS3.18 Annex F): query records and instance headers, with bulk data replaced by
//! BulkDataURIs.

use dicom_core::header::{HasLength, Header};
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use serde_json::{json, Map, Value as Json};
use voxide_store::{Record, Value};

/// Values longer than this (binary VRs) are served as bulk data, not inline.
const BULK_THRESHOLD: usize = 1024;

fn tag_key(tag: u32) -> String {
    format!("{tag:08X}")
}

/// One attribute as DICOM JSON.
pub fn attribute(vr: &str, value: Option<&Value>) -> Json {
    let values: Vec<Json> = match value {
        None => return json!({ "vr": vr }),
        Some(Value::Int(n)) => vec![json!(n)],
        Some(Value::Text(s)) => s
            .split('\\')
            .map(|v| match vr {
                "PN" => json!({ "Alphabetic": v }),
                "IS" | "US" | "UL" | "SS" | "SL" => v
                    .trim()
                    .parse::<i64>()
                    .map_or_else(|_| json!(v), |n| json!(n)),
                "DS" | "FL" | "FD" => v
                    .trim()
                    .parse::<f64>()
                    .map_or_else(|_| json!(v), |n| json!(n)),
                _ => json!(v),
            })
            .collect(),
    };
    json!({ "vr": vr, "Value": values })
}

/// A query record as a DICOM JSON dataset.
pub fn record(record: &Record) -> Map<String, Json> {
    record
        .attributes
        .iter()
        .map(|a| (tag_key(a.tag), attribute(a.vr, a.value.as_ref())))
        .collect()
}

/// An object's dataset (not its meta group) as DICOM JSON; binary values above the bulk
/// threshold and Pixel Data become BulkDataURIs under `instance_url/bulkdata/<tag>`.
pub fn dataset(obj: &InMemDicomObject, instance_url: &str) -> Map<String, Json> {
    let mut out = Map::new();
    for element in obj.iter() {
        let tag = element.tag();
        let vr = element.vr();
        let bulk = tag == Tag(0x7FE0, 0x0010)
            || (matches!(
                vr,
                VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::UN
            ) && element.length().0 as usize > BULK_THRESHOLD);
        let key = format!("{:04X}{:04X}", tag.0, tag.1);
        if bulk {
            out.insert(
                key.clone(),
                json!({ "vr": vr.to_string(), "BulkDataURI": format!("{instance_url}/bulkdata/{key}") }),
            );
            continue;
        }
        match serde_json::to_value(dicom_json::DicomJson::from(element)) {
            Ok(v) => {
                out.insert(key, v);
            }
            Err(e) => {
                tracing::debug!(tag = %key, error = %e, "attribute left out of DICOM JSON");
            }
        }
    }
    out
}
