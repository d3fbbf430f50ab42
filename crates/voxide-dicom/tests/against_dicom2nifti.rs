//! Vendor series (GE, Siemens, Philips enhanced multi-frame, Siemens multi-frame, Hitachi,
//! Hyperfine, compressed variants) against the NIfTI volumes dicom2nifti produces from them.
//! Axis order may differ (dicom2nifti may flip the slice axis), so the comparison is physical:
//! every voxel of ours must land on a voxel centre of theirs with the same value.

mod common;

use voxide_dicom::{list_files, read_series, AssemblyOptions};

#[test]
fn vendor_series_match_dicom2nifti_in_physical_space() {
    let root = common::data_dir().join("dicom/dicom2nifti");
    let mut compared = Vec::new();
    for truth in list_files(&root).unwrap() {
        let rel = truth.strip_prefix(&root).unwrap().display().to_string();
        let Some(series) = rel.strip_suffix("_ground_truth.nii.gz") else {
            continue;
        };
        // Refused series and the colour one are checked elsewhere.
        if series.starts_with("failing/") || series.contains("/rgb/") {
            continue;
        }
        let vol = read_series(&root.join(series), &AssemblyOptions::default())
            .unwrap_or_else(|e| panic!("{series}: {e}"));
        let theirs = voxide_io::read_image(&truth).unwrap();
        let (g, t) = (vol.image.geometry(), theirs.geometry());
        assert_eq!(g.len(), t.len(), "{series}: voxel count");
        let ours_v = vol.image.to_f64_vec();
        let theirs_v = theirs.to_f64_vec();
        let [ni, nj, nk] = g.size();
        let [ti, tj, _] = t.size();
        let mut worst_offset = 0.0f64;
        for k in 0..nk {
            for j in 0..nj {
                for i in 0..ni {
                    let p = g.index_to_physical([i as f64, j as f64, k as f64]);
                    let q = t.physical_to_index(p);
                    let r = q.map(f64::round);
                    for a in 0..3 {
                        worst_offset = worst_offset.max((q[a] - r[a]).abs());
                    }
                    assert!(
                        r.iter()
                            .zip(t.size())
                            .all(|(v, n)| *v >= 0.0 && *v < n as f64),
                        "{series}: voxel ({i},{j},{k}) falls outside theirs at {q:?}"
                    );
                    let idx = r[0] as usize + ti * (r[1] as usize + tj * r[2] as usize);
                    let ours = ours_v[i + ni * (j + nj * k)];
                    assert!(
                        (ours - theirs_v[idx]).abs() < 1e-3,
                        "{series}: value at ({i},{j},{k}) {ours} vs {}",
                        theirs_v[idx]
                    );
                }
            }
        }
        assert!(
            worst_offset < 0.01,
            "{series}: voxel centres off by {worst_offset} voxel"
        );
        compared.push(series.to_string());
    }
    assert!(compared.len() >= 19, "compared only {compared:?}");
}
