fn main() {
    for a in std::env::args().skip(1) {
        let p = voxide_dicom::decode_file(std::path::Path::new(&a)).unwrap();
        println!(
            "{a}: {:?} {:?}",
            &p.bytes()[..16],
            &p.stored_values(0).unwrap()[..4]
        );
    }
}
