fn main() {
    let root = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    for f in voxide_dicom::list_files(&root).unwrap() {
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        match voxide_dicom::decode_file(&f) {
            Ok(p) => println!(
                "OK\t{rel}\t{}x{}x{} spp{} ba{} {}",
                p.columns,
                p.rows,
                p.frames,
                p.samples_per_pixel,
                p.bits_allocated,
                p.transfer_syntax
            ),
            Err(e) => println!("ERR\t{rel}\t{e}"),
        }
    }
}
