//! Streams arbitrary bytes, saved as a `.nrrd` or a `.nii` file, through `SlabReader`: no
//! panic, and the slabs tile exactly the volume the header announces.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("voxide-fuzz-slab-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(if kind % 2 == 0 { "f.nrrd" } else { "f.nii" });
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let Ok(mut reader) = voxide_io::SlabReader::open(&path) else {
        return;
    };
    let [nx, ny, nz] = reader.geometry().size();
    let mut z = 0;
    // Small slabs, and a cap on the voxels read, so that a header announcing a huge volume
    // backed by a short file fails fast instead of allocating it.
    while let Ok(Some(slab)) = reader.next_slab(1 << 12) {
        let [sx, sy, sz] = slab.geometry().size();
        assert_eq!((sx, sy), (nx, ny));
        z += sz;
        assert!(z <= nz);
    }
});
