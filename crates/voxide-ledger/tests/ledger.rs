//! The ledger end to end, in memory: entries appended and checkpointed, then verified from
//! the stored bytes alone; every kind of tampering with the stored log is caught.

use voxide_ledger::{keyed_hash, verify, Action, Entry, Ledger, Outcome, SigningKey};

const ORIGIN: &str = "voxide.test/ledger";

fn entry(i: usize) -> Entry {
    Entry {
        time: format!("2026-11-24T07:{:02}:{:02}.000Z", i / 60 % 60, i % 60),
        actor: if i.is_multiple_of(3) {
            "dr.smith".into()
        } else {
            "STORESCU@10.0.0.7".into()
        },
        role: if i.is_multiple_of(3) {
            "clinician".into()
        } else {
            "uploader".into()
        },
        action: if i.is_multiple_of(3) {
            Action::Retrieve
        } else {
            Action::InstanceStored
        },
        outcome: Outcome::Success,
        reason: None,
        collection: Some("trial-1".into()),
        study_instance_uid: Some("1.2.826.0.1.3680043.8.498.1".into()),
        series_instance_uid: Some("1.2.826.0.1.3680043.8.498.2".into()),
        sop_instance_uid: Some(format!("1.2.826.0.1.3680043.8.498.3.{i}")),
        content_sha256: Some(format!("{:064x}", i)),
        patient: Some(keyed_hash(b"deployment secret", "PAT-0001")),
        details: Default::default(),
    }
}

fn key() -> SigningKey {
    SigningKey::from_seed(ORIGIN, [42; 32]).unwrap()
}

/// A log of `n` entries with a checkpoint after every `every` appends (and at the end).
fn build(n: usize, every: usize) -> (Ledger, Vec<Vec<u8>>, Vec<String>) {
    let mut ledger = Ledger::new(ORIGIN, key());
    let (mut stored, mut checkpoints) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (index, bytes) = ledger.append(&entry(i));
        assert_eq!(index, i as u64);
        stored.push(bytes);
        if (i + 1).is_multiple_of(every) || i + 1 == n {
            checkpoints.push(ledger.checkpoint().unwrap());
        }
    }
    (ledger, stored, checkpoints)
}

fn check(
    stored: &[Vec<u8>],
    checkpoints: &[String],
) -> Result<voxide_ledger::VerifyReport, String> {
    let notes: Vec<&str> = checkpoints.iter().map(String::as_str).collect();
    verify(
        ORIGIN,
        &key().verifier(),
        stored.iter().map(Vec::as_slice),
        &notes,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn rfc4231_hmac_sha256_vector_and_patient_ids_never_in_clear() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert_eq!(
        keyed_hash(b"Jefe", "what do ya want for nothing?"),
        "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let (_, stored, _) = build(5, 5);
    for bytes in &stored {
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("PAT-0001"), "{text}");
        assert!(text.contains("hmac-sha256:"), "{text}");
        assert_eq!(Entry::from_bytes(bytes).unwrap().to_bytes(), *bytes);
    }
    assert_ne!(
        keyed_hash(b"other key", "PAT-0001"),
        keyed_hash(b"deployment secret", "PAT-0001")
    );
}

#[test]
fn a_stored_log_verifies_and_reloads_to_the_same_root() {
    let (ledger, stored, checkpoints) = build(250, 16);
    let report = check(&stored, &checkpoints).unwrap();
    assert_eq!(
        (report.entries, report.verified_size, report.unsigned_tail),
        (250, 250, 0)
    );
    assert_eq!(report.checkpoints, 16);
    let reloaded = Ledger::load(ORIGIN, key(), stored.iter().map(Vec::as_slice));
    assert_eq!(reloaded.root(), ledger.root());
    // Appended after the last checkpoint: verifies, reported as not yet vouched for.
    let mut more = stored.clone();
    more.push(entry(250).to_bytes());
    assert_eq!(check(&more, &checkpoints).unwrap().unsigned_tail, 1);
}

#[test]
fn every_single_tampering_of_a_checkpointed_entry_is_caught() {
    let (_, stored, checkpoints) = build(40, 7);
    for i in 0..stored.len() {
        let mut modified = stored.clone();
        let mut e = Entry::from_bytes(&modified[i]).unwrap();
        e.actor.push('x');
        modified[i] = e.to_bytes();
        assert!(check(&modified, &checkpoints).is_err(), "modified {i}");

        let mut removed = stored.clone();
        removed.remove(i);
        let err = check(&removed, &checkpoints).unwrap_err();
        assert!(
            err.contains("changed, removed") || err.contains("were removed"),
            "{err}"
        );

        let mut inserted = stored.clone();
        inserted.insert(i, entry(1000).to_bytes());
        assert!(check(&inserted, &checkpoints).is_err(), "inserted at {i}");

        if i + 1 < stored.len() {
            let mut swapped = stored.clone();
            swapped.swap(i, i + 1);
            assert!(check(&swapped, &checkpoints).is_err(), "swapped {i}");
        }
    }
    // The error names the range where trust ends.
    let mut modified = stored.clone();
    modified[10] = entry(999).to_bytes();
    let err = check(&modified, &checkpoints).unwrap_err();
    assert!(err.contains("between 7 and 13"), "{err}");
}

#[test]
fn forged_or_foreign_checkpoints_and_garbage_entries_fail() {
    let (_, stored, checkpoints) = build(20, 5);
    // A checkpoint signed by another key.
    let mut other = Ledger::new(ORIGIN, SigningKey::from_seed(ORIGIN, [1; 32]).unwrap());
    for bytes in &stored {
        other.append(&Entry::from_bytes(bytes).unwrap());
    }
    let mut foreign = checkpoints.clone();
    foreign.push(other.checkpoint().unwrap());
    assert!(check(&stored, &foreign).is_err());
    // A rewritten history re-signed with the right key is still inconsistent with the older
    // checkpoints.
    let mut rewritten = stored.clone();
    rewritten[2] = entry(77).to_bytes();
    let relogged = Ledger::load(ORIGIN, key(), rewritten.iter().map(Vec::as_slice));
    let mut resigned = checkpoints.clone();
    resigned.push(relogged.checkpoint().unwrap());
    assert!(check(&rewritten, &resigned).is_err());
    // Not an entry at all.
    let mut garbage = stored.clone();
    garbage[3] = b"{\"not\": \"an entry\"}".to_vec();
    assert!(check(&garbage, &checkpoints)
        .unwrap_err()
        .contains("entry 3"));
    // Checkpoints out of order.
    let mut reversed = checkpoints.clone();
    reversed.reverse();
    assert!(check(&stored, &reversed).is_err());
}
