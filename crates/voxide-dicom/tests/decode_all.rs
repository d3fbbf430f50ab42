//! Every file under `shared/data/dicom` has a declared outcome, and gets it.

mod common;

use std::collections::BTreeMap;

use voxide_dicom::{decode_file, list_files, DicomError};

#[test]
fn every_dicom_file_decodes_or_fails_as_declared() {
    let root = common::data_dir().join("dicom");
    let table = include_str!("data/dicom_outcomes.tsv");
    let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut cols = line.split('\t');
        let path = cols.next().unwrap().to_string();
        let outcome = cols.next().unwrap().to_string();
        let reason = cols.next().unwrap_or("").to_string();
        expected.insert(path, (outcome, reason));
    }
    let files = list_files(&root).unwrap();
    let mut failures = Vec::new();
    let mut seen = 0;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        let Some((outcome, reason)) = expected.get(&rel) else {
            failures.push(format!(
                "{rel}: not in tests/data/dicom_outcomes.tsv (new file? declare its outcome)"
            ));
            continue;
        };
        seen += 1;
        let result = decode_file(file);
        let got = match &result {
            Ok(px) => {
                assert!(
                    px.rows > 0 && px.columns > 0 && px.frames > 0,
                    "{rel}: empty image"
                );
                // Every frame's stored values can be extracted.
                for f in 0..px.frames {
                    px.stored_values(f)
                        .unwrap_or_else(|e| panic!("{rel} frame {f}: {e}"));
                }
                "decoded"
            }
            Err(DicomError::NoPixelData { .. }) => "no-pixel-data",
            Err(DicomError::Parse { .. }) if outcome == "not-dicom" => "not-dicom",
            Err(DicomError::Parse { .. }) => "unreadable",
            Err(DicomError::PixelDecode { .. }) => "undecodable",
            Err(other) => panic!("{rel}: unexpected error kind: {other}"),
        };
        *counts.entry(got).or_default() += 1;
        if got != outcome {
            failures.push(format!(
                "{rel}: expected {outcome}, got {got} ({result:?})",
                result = result.as_ref().err()
            ));
            continue;
        }
        if let Err(e) = &result {
            let msg = e.to_string();
            // Every error names the file and explains itself.
            assert!(
                msg.contains(&rel) || msg.contains(file.file_name().unwrap().to_str().unwrap()),
                "{rel}: error does not name the file: {msg}"
            );
            if !reason.is_empty() && !msg.contains(reason.as_str()) {
                failures.push(format!(
                    "{rel}: error should mention '{reason}', got: {msg}"
                ));
            }
        }
    }
    assert_eq!(
        seen,
        expected.len(),
        "files declared in the table are missing from the data folder"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("outcomes: {counts:?}");
    assert!(counts["decoded"] >= 270);
}
