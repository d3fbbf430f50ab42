//! Shared plumbing: scalar (de)coding, gzip with limits, atomic file writes.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use voxide_core::{AnyImage, Geometry, Image, Voxel, VoxelType};

use crate::IoError;

/// A fixed-size number as stored in a file.
pub(crate) trait Scalar: Copy {
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
    fn from_be(b: &[u8]) -> Self;
    fn as_f64(self) -> f64;
    fn put_le(self, out: &mut Vec<u8>);
}

macro_rules! scalar {
    ($t:ty) => {
        impl Scalar for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn from_le(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            #[inline]
            fn from_be(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_be_bytes(a)
            }
            #[inline]
            fn as_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
scalar!(u8);
scalar!(i8);
scalar!(i16);
scalar!(u16);
scalar!(i32);
scalar!(u32);
scalar!(i64);
scalar!(u64);
scalar!(f32);
scalar!(f64);

/// Decodes whole scalars from `bytes` (a trailing partial scalar is ignored).
pub(crate) fn decode<S: Scalar>(bytes: &[u8], big_endian: bool) -> Vec<S> {
    let chunks = bytes.chunks_exact(S::SIZE);
    if big_endian {
        chunks.map(S::from_be).collect()
    } else {
        chunks.map(S::from_le).collect()
    }
}

/// Appends the voxels of `image` in file order, little endian.
pub(crate) fn encode_le(image: &AnyImage, out: &mut Vec<u8>) {
    fn put<T: Voxel + Scalar>(img: &Image<T>, out: &mut Vec<u8>) {
        out.reserve(img.data().len() * T::SIZE);
        for v in img.data().iter() {
            v.put_le(out);
        }
    }
    voxide_core::with_image!(image, img => put(img, out))
}

/// The scalar types found in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawType {
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl RawType {
    pub(crate) fn size(self) -> usize {
        match self {
            RawType::U8 | RawType::I8 => 1,
            RawType::I16 | RawType::U16 => 2,
            RawType::I32 | RawType::U32 | RawType::F32 => 4,
            RawType::I64 | RawType::U64 | RawType::F64 => 8,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            RawType::U8 => "uint8",
            RawType::I8 => "int8",
            RawType::I16 => "int16",
            RawType::U16 => "uint16",
            RawType::I32 => "int32",
            RawType::U32 => "uint32",
            RawType::I64 => "int64",
            RawType::U64 => "uint64",
            RawType::F32 => "float32",
            RawType::F64 => "float64",
        }
    }

    /// Whether values scaled by a slope are kept in f64 rather than f32 (the source has more
    /// precision than f32 can carry).
    fn scales_to_f64(self) -> bool {
        matches!(
            self,
            RawType::I32 | RawType::U32 | RawType::I64 | RawType::U64 | RawType::F64
        )
    }
}

/// Builds an image from exactly `geometry.len()` scalars of type `raw` in `bytes`.
///
/// Types without an [`AnyImage`] variant widen: int8 → i16; uint32, int64, uint64 → f64 (exact
/// for magnitudes up to 2^53). With `scale = Some((slope, inter))` every value becomes
/// `value * slope + inter` in f32, or f64 for 32/64-bit integer and f64 sources.
pub(crate) fn build_image(
    geometry: Geometry,
    raw: RawType,
    bytes: &[u8],
    big_endian: bool,
    scale: Option<(f64, f64)>,
) -> Result<AnyImage, IoError> {
    fn scaled<S: Scalar, T: Voxel>(bytes: &[u8], big: bool, slope: f64, inter: f64) -> Vec<T> {
        let chunks = bytes.chunks_exact(S::SIZE);
        let f = |c: &[u8]| {
            let v = if big { S::from_be(c) } else { S::from_le(c) };
            T::from_f64(v.as_f64() * slope + inter)
        };
        chunks.map(f).collect()
    }
    fn to_f64<S: Scalar>(bytes: &[u8], big: bool) -> Vec<f64> {
        scaled::<S, f64>(bytes, big, 1.0, 0.0)
    }
    fn scaled_as<T: Voxel>(raw: RawType, b: &[u8], big: bool, s: f64, i: f64) -> Vec<T> {
        match raw {
            RawType::U8 => scaled::<u8, T>(b, big, s, i),
            RawType::I8 => scaled::<i8, T>(b, big, s, i),
            RawType::I16 => scaled::<i16, T>(b, big, s, i),
            RawType::U16 => scaled::<u16, T>(b, big, s, i),
            RawType::I32 => scaled::<i32, T>(b, big, s, i),
            RawType::U32 => scaled::<u32, T>(b, big, s, i),
            RawType::I64 => scaled::<i64, T>(b, big, s, i),
            RawType::U64 => scaled::<u64, T>(b, big, s, i),
            RawType::F32 => scaled::<f32, T>(b, big, s, i),
            RawType::F64 => scaled::<f64, T>(b, big, s, i),
        }
    }

    let b = bytes;
    let big = big_endian;
    let image = match scale {
        Some((slope, inter)) if raw.scales_to_f64() => AnyImage::F64(Image::from_vec(
            geometry,
            scaled_as::<f64>(raw, b, big, slope, inter),
        )?),
        Some((slope, inter)) => AnyImage::F32(Image::from_vec(
            geometry,
            scaled_as::<f32>(raw, b, big, slope, inter),
        )?),
        None => match raw {
            RawType::U8 => AnyImage::U8(Image::from_vec(geometry, b.to_vec())?),
            RawType::I8 => AnyImage::I16(Image::from_vec(
                geometry,
                decode::<i8>(b, big).into_iter().map(i16::from).collect(),
            )?),
            RawType::I16 => AnyImage::I16(Image::from_vec(geometry, decode(b, big))?),
            RawType::U16 => AnyImage::U16(Image::from_vec(geometry, decode(b, big))?),
            RawType::I32 => AnyImage::I32(Image::from_vec(geometry, decode(b, big))?),
            RawType::F32 => AnyImage::F32(Image::from_vec(geometry, decode(b, big))?),
            RawType::F64 => AnyImage::F64(Image::from_vec(geometry, decode(b, big))?),
            RawType::U32 => AnyImage::F64(Image::from_vec(geometry, to_f64::<u32>(b, big))?),
            RawType::I64 => AnyImage::F64(Image::from_vec(geometry, to_f64::<i64>(b, big))?),
            RawType::U64 => AnyImage::F64(Image::from_vec(geometry, to_f64::<u64>(b, big))?),
        },
    };
    Ok(image)
}

/// Whether `bytes` start with the gzip magic `1f 8b`.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The error for data that should be gzip but is not.
pub(crate) fn not_gzip(bytes: &[u8]) -> IoError {
    IoError::malformed(format!(
        "the data should be gzip-compressed but start with {:02x?}, not the gzip magic 1f 8b; \
         the file is damaged or its header names the wrong encoding",
        &bytes[..bytes.len().min(4)]
    ))
}

/// The voxel type [`build_image`] gives scalars of type `raw`, scaled or not.
pub(crate) fn voxel_type_of(raw: RawType, scaled: bool) -> VoxelType {
    match (raw, scaled) {
        (r, true) if r.scales_to_f64() => VoxelType::F64,
        (_, true) => VoxelType::F32,
        (RawType::U8, false) => VoxelType::U8,
        (RawType::I8 | RawType::I16, false) => VoxelType::I16,
        (RawType::U16, false) => VoxelType::U16,
        (RawType::I32, false) => VoxelType::I32,
        (RawType::F32, false) => VoxelType::F32,
        (RawType::F64 | RawType::U32 | RawType::I64 | RawType::U64, false) => VoxelType::F64,
    }
}

/// Decompresses at most `limit` bytes of (possibly multi-member) gzip data.
///
/// A stream that ends early returns what it produced (the caller's size check then reports the
/// truncation); corrupt data is [`IoError::Malformed`]. Memory grows only with the bytes the
/// stream actually produces, never with a size a header declares.
pub(crate) fn gunzip(bytes: &[u8], limit: u64) -> Result<Vec<u8>, IoError> {
    if bytes.len() >= 2 && !is_gzip(bytes) {
        return Err(not_gzip(bytes));
    }
    // Reserve what the stream will plausibly produce, so that a large image is not copied
    // again at every doubling; the bound keeps a lying header from reserving more than a
    // generous compression ratio of the bytes at hand.
    let plausible = (bytes.len() as u64)
        .saturating_mul(64)
        .saturating_add(1 << 16);
    let mut out = Vec::with_capacity(limit.min(plausible) as usize);
    match MultiGzDecoder::new(bytes).take(limit).read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(out),
        Err(e) => Err(IoError::malformed(format!(
            "corrupt gzip data ({e}) after {} decompressed bytes; the file is damaged, copy or export it again",
            out.len()
        ))),
    }
}

/// Inflates a gzip stream that holds exactly `count` scalars of type `T` straight into typed
/// storage, or returns `None` when it does not (truncated, corrupt, longer, several members).
///
/// This is the fast path for large compressed volumes: libdeflate decompresses a whole buffer
/// about twice as fast as a streaming inflater, and writing into the final `Vec<T>` saves a
/// copy and a second volume-sized allocation. Callers fall back to [`gunzip`], which
/// streams, accepts what libdeflate rejects and words the error when there is one.
pub(crate) fn gunzip_exact<T: bytemuck::Pod>(
    bytes: &[u8],
    count: usize,
    big_endian: bool,
) -> Option<Vec<T>> {
    if !is_gzip(bytes) {
        return None;
    }
    // The gzip trailer's ISIZE (length mod 2^32) must agree before a volume-sized allocation
    // is made on the word of a header.
    let want = count.checked_mul(std::mem::size_of::<T>())?;
    let isize_field =
        u32::from_le_bytes(bytes.get(bytes.len().checked_sub(4)?..)?.try_into().ok()?);
    if isize_field != want as u32 {
        return None;
    }
    // `alloc_zeroed` gets fresh pages from the kernel for a large buffer: no memset.
    let mut out: Vec<T> = vec![T::zeroed(); count];
    let written = libdeflater::Decompressor::new()
        .gzip_decompress(bytes, bytemuck::cast_slice_mut(&mut out))
        .ok()?;
    if written != want {
        return None;
    }
    let size = std::mem::size_of::<T>();
    if big_endian == cfg!(target_endian = "little") && size > 1 {
        for v in bytemuck::cast_slice_mut::<T, u8>(&mut out).chunks_exact_mut(size) {
            v.reverse();
        }
    }
    Some(out)
}

/// Gzip-compresses `data`.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::new(6));
    // Writing into a Vec cannot fail.
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .unwrap_or_else(|e| unreachable!("gzip into memory failed: {e}"))
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, IoError> {
    fs::read(path).map_err(|e| IoError::io(path, e))
}

/// Writes `data` to `path` atomically: into a temporary file in the same folder, synced, then
/// renamed over `path`. On failure the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), IoError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        IoError::io(
            path,
            std::io::Error::new(ErrorKind::InvalidInput, "the path does not name a file"),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let attempt = || -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    };
    attempt().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        IoError::io(path, e)
    })
}

/// Whether the file name ends with `suffix` (ASCII, case-insensitive).
pub(crate) fn name_ends_with(path: &Path, suffix: &str) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(suffix))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_decode_both_byte_orders() {
        assert_eq!(decode::<i16>(&[1, 2, 3, 4, 5], false), vec![0x0201, 0x0403]);
        assert_eq!(decode::<i16>(&[1, 2, 3, 4], true), vec![0x0102, 0x0304]);
        assert_eq!(decode::<f32>(&1.5f32.to_be_bytes(), true), vec![1.5]);
    }

    #[test]
    fn gunzip_limits_and_reports() {
        let data: Vec<u8> = (0..10_000u32).map(|v| (v % 251) as u8).collect();
        let gz = gzip(&data);
        assert_eq!(gunzip(&gz, u64::MAX).unwrap(), data);
        assert_eq!(gunzip(&gz, 100).unwrap(), &data[..100]);
        // A stream cut short returns its prefix.
        let cut = gunzip(&gz[..gz.len() / 2], u64::MAX).unwrap();
        assert!(cut.len() < data.len() && data.starts_with(&cut));
        // Garbage after the magic is corrupt, not truncated.
        let mut bad = gz.clone();
        for b in bad.iter_mut().skip(12).take(40) {
            *b ^= 0x5a;
        }
        assert!(matches!(
            gunzip(&bad, u64::MAX),
            Err(IoError::Malformed { .. })
        ));
    }
}
