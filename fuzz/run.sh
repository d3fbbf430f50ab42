#!/usr/bin/env bash
# Runs one fuzz target for a while, seeded from the shared test data.
#   bash fuzz/run.sh dicom_read 600
# cargo fuzz needs nightly features; RUSTC_BOOTSTRAP lets the pinned stable toolchain build them.
# No sanitizer: the code is safe Rust (unsafe is forbidden in the workspace), so what the fuzzer
# hunts is panics, aborts, hangs and runaway allocations; ASan would only slow it ~10x.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?target: dicom_read | seg_read | nifti_read | nrrd_read | multipart_parse | pyradiomics_params | model_package | signed_note | deid}
seconds=${2:-600}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
data=../../shared/data
corpus=corpus/$target
mkdir -p "$corpus"
case "$target" in
  dicom_read|deid) find "$data/dicom" -type f \( -name '*.dcm' -o -name 'DICOMDIR*' \) -size -64k -exec cp -n {} "$corpus/" \; ;;
  seg_read) find "$data/dicom" -type f -name '*.dcm' -size -128k -exec grep -l -a -F '1.2.840.10008.5.1.4.1.1.66' {} + | xargs -I{} cp -n {} "$corpus/" ;;
  nifti_read) find "$data" -type f -name '*.nii*' -size -256k -exec cp -n {} "$corpus/" \; ;;
  nrrd_read)  find "$data" -type f -name '*.nrrd' -size -512k -exec cp -n {} "$corpus/" \; ;;
  pyradiomics_params) cp -n "$data"/radiomics/pyradiomics/params/*.yaml "$corpus/" ;;
  multipart_parse) printf 'multipart/related; type="application/dicom"; boundary=b\npre\r\n--b \r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--b\nX: y\n\n\n--b--\r\n' > "$corpus/seed" ;;
  signed_note) printf 'voxide.test/ledger\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\xe2\x80\x94 fuzz AAAAAAAA\n' > "$corpus/seed"
    printf 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW' > "$corpus/vkey" ;;
esac
RUSTC_BOOTSTRAP=1 cargo fuzz run -O --sanitizer none "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=1048576 -print_final_stats=1
