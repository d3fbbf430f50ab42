//! Ledger entries for hospital security information and event management (SIEM) systems: FHIR
//! R4 `AuditEvent` resources and DICOM PS3.15 Annex A.5 audit messages, both as JSON.
//!
//! Both use the DICOM audit event codes (PS3.16 CID 400, "DCM") and name the objects by their
//! UIDs; the patient stays the ledger's keyed hash, never an identifier in clear.

use serde_json::{json, Value};

use crate::entry::{Action, Entry, Outcome};

/// The DICOM audit event (CID 400) of an action, and the FHIR/RFC 3881 action code (C create,
/// R read, U update, D delete, E execute).
fn event(action: Action) -> (&'static str, &'static str, &'static str) {
    match action {
        Action::InstanceStored => ("110104", "DICOM Instances Transferred", "C"),
        Action::Query => ("110112", "Query", "E"),
        Action::Retrieve => ("110103", "DICOM Instances Accessed", "R"),
        Action::Export => ("110106", "Export", "R"),
        Action::Delete => ("110105", "DICOM Study Deleted", "D"),
        Action::Deidentify => ("110103", "DICOM Instances Accessed", "C"),
        Action::AiRun | Action::AiResult => ("110100", "Application Activity", "E"),
        Action::Login | Action::LoginFailed => ("110114", "User Authentication", "E"),
        Action::PermissionChange => ("110136", "Security Roles Changed", "U"),
    }
}

/// The objects an entry names, as (type text, DCM ID type code, value).
fn objects(entry: &Entry) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    if let Some(uid) = &entry.study_instance_uid {
        out.push(("Study Instance UID", "110180", uid.clone()));
    }
    if let Some(uid) = &entry.series_instance_uid {
        out.push(("Series Instance UID", "110181", uid.clone()));
    }
    if let Some(uid) = &entry.sop_instance_uid {
        out.push(("SOP Instance UID", "110182", uid.clone()));
    }
    out
}

/// One entry as a FHIR R4 `AuditEvent`; `index` is its position in the ledger, `origin` the
/// ledger's name (the observer).
pub fn fhir_audit_event(index: u64, entry: &Entry, origin: &str) -> Value {
    let (code, display, action) = event(entry.action);
    let mut entities: Vec<Value> = objects(entry)
        .into_iter()
        .map(|(what, _, uid)| {
            json!({
                "what": { "identifier": { "system": "urn:dicom:uid", "value": format!("urn:oid:{uid}") } },
                "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object" },
                "description": what,
            })
        })
        .collect();
    if let Some(patient) = &entry.patient {
        entities.push(json!({
            "what": { "identifier": { "system": "urn:voxide:keyed-patient", "value": patient } },
            "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person" },
            "role": { "system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient" },
        }));
    }
    if let Some(sha) = &entry.content_sha256 {
        entities.push(json!({
            "what": { "identifier": { "system": "urn:voxide:sha256", "value": sha } },
            "description": "SHA-256 of the stored content",
        }));
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": format!("voxide-{index}"),
        "type": { "system": "http://dicom.nema.org/resources/ontology/DCM", "code": code, "display": display },
        "subtype": [{ "system": "urn:voxide:ledger-action", "code": action_name(entry.action) }],
        "action": action,
        "recorded": entry.time,
        "outcome": match entry.outcome { Outcome::Success => "0", Outcome::Failure => "8" },
        "agent": [{
            "who": { "display": entry.actor },
            "role": [{ "text": entry.role }],
            "requestor": true,
        }],
        "source": { "observer": { "display": origin } },
        "entity": entities,
    });
    if let Some(reason) = &entry.reason {
        event["outcomeDesc"] = json!(reason);
    }
    event
}

/// One entry as a DICOM PS3.15 A.5 audit message, in a JSON rendering of its XML schema.
pub fn dicom_audit_message(index: u64, entry: &Entry, origin: &str) -> Value {
    let (code, display, action) = event(entry.action);
    let mut participants: Vec<Value> = objects(entry)
        .into_iter()
        .map(|(what, id_type, uid)| {
            json!({
                "ParticipantObjectID": uid,
                "ParticipantObjectTypeCode": "2",
                "ParticipantObjectTypeCodeRole": "3",
                "ParticipantObjectIDTypeCode": { "csd-code": id_type, "codeSystemName": "DCM", "originalText": what },
            })
        })
        .collect();
    if let Some(patient) = &entry.patient {
        participants.push(json!({
            "ParticipantObjectID": patient,
            "ParticipantObjectTypeCode": "1",
            "ParticipantObjectTypeCodeRole": "1",
            "ParticipantObjectIDTypeCode": { "csd-code": "2", "codeSystemName": "RFC-3881", "originalText": "Patient Number (keyed hash)" },
        }));
    }
    json!({
        "AuditMessage": {
            "EventIdentification": {
                "EventActionCode": action,
                "EventDateTime": entry.time,
                "EventOutcomeIndicator": match entry.outcome { Outcome::Success => "0", Outcome::Failure => "8" },
                "EventID": { "csd-code": code, "codeSystemName": "DCM", "originalText": display },
                "EventOutcomeDescription": entry.reason,
            },
            "ActiveParticipant": [{
                "UserID": entry.actor,
                "UserIsRequestor": true,
                "RoleIDCode": { "csd-code": entry.role, "codeSystemName": "voxide-roles", "originalText": entry.role },
            }],
            "AuditSourceIdentification": { "AuditSourceID": origin, "AuditEnterpriseSiteID": format!("ledger entry {index}") },
            "ParticipantObjectIdentification": participants,
        }
    })
}

fn action_name(action: Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_instance_maps_onto_both_formats() {
        let mut entry = Entry::new("dicom:CT1@10.0.0.5", "dicom-peer", Action::InstanceStored);
        entry.time = "2026-11-24T07:00:00.000Z".into();
        entry.study_instance_uid = Some("1.2.3".into());
        entry.sop_instance_uid = Some("1.2.3.4".into());
        entry.patient = Some("hmac-sha256:ab".into());
        let fhir = fhir_audit_event(7, &entry, "voxide-ledger-x");
        assert_eq!(fhir["resourceType"], "AuditEvent");
        assert_eq!(fhir["type"]["code"], "110104");
        assert_eq!(fhir["action"], "C");
        assert_eq!(fhir["outcome"], "0");
        assert_eq!(
            fhir["entity"][0]["what"]["identifier"]["value"],
            "urn:oid:1.2.3"
        );
        assert_eq!(fhir["entity"].as_array().unwrap().len(), 3);
        assert_eq!(fhir["subtype"][0]["code"], "instance_stored");
        let dicom = dicom_audit_message(7, &entry, "voxide-ledger-x");
        let msg = &dicom["AuditMessage"];
        assert_eq!(msg["EventIdentification"]["EventID"]["csd-code"], "110104");
        assert_eq!(
            msg["ParticipantObjectIdentification"][1]["ParticipantObjectIDTypeCode"]["csd-code"],
            "110182"
        );
        assert_eq!(msg["ActiveParticipant"][0]["UserID"], "dicom:CT1@10.0.0.5");
    }
}
