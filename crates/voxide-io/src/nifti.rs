//! NIfTI-1 and NIfTI-2 single-file images (`.nii`, `.nii.gz`).
//!
//! Reading accepts either byte order (detected from `sizeof_hdr`), gzip detected by its magic,
//! and takes the geometry from the sform when `sform_code > 0`, else from the qform when
//! `qform_code > 0`, else from `pixdim` alone (NIfTI "method 1": diagonal spacing, origin 0), the
//! precedence nibabel uses. The NIfTI affine maps to RAS; voxide works in LPS, so x and y are
//! negated. Spatial units in metres or microns are scaled to millimetres.
//!
//! Voxel types: uint8 → `U8`, int16 → `I16`, uint16 → `U16`, int32 → `I32`, float32 → `F32`,
//! float64 → `F64`; int8 widens to `I16`; uint32, int64 and uint64 become `F64` (exact up to
//! 2^53). When `scl_slope` is finite, non-zero and `(scl_slope, scl_inter) != (1, 0)`, values are
//! scaled to `F32` (to `F64` for int32, uint32, 64-bit and float64 sources).
//!
//! Writing produces NIfTI-1 (or NIfTI-2 when asked, or when a size exceeds 32767) with
//! `sform_code = qform_code = 1` (scanner), both from the image geometry, little endian.

use std::path::Path;

use voxide_core::geometry::{det, Mat3};
use voxide_core::{AnyImage, Geometry, VoxelType};

use crate::raw::{self, RawType};
use crate::slabs::StreamPlan;
use crate::IoError;

/// Which NIfTI header to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NiftiVersion {
    /// 348-byte header, f32 geometry, sizes up to 32767.
    #[default]
    V1,
    /// 540-byte header, f64 geometry, 64-bit sizes.
    V2,
}

const MAGIC_V1: &[u8; 4] = b"n+1\0";
const MAGIC_V2: &[u8; 8] = b"n+2\0\r\n\x1a\n";
const V1_HEADER: usize = 348;
const V2_HEADER: usize = 540;
const V1_OFFSET: usize = 352;
const V2_OFFSET: usize = 544;

/// Reads a `.nii` or `.nii.gz` file (gzip detected by content, not by name).
pub fn read(path: &Path) -> Result<AnyImage, IoError> {
    let bytes = raw::read_file(path)?;
    read_bytes(&bytes).map_err(|e| e.in_file(path))
}

/// Reads a NIfTI-1 or NIfTI-2 image from memory, gzipped or not.
pub fn read_bytes(bytes: &[u8]) -> Result<AnyImage, IoError> {
    if raw::is_gzip(bytes) {
        let head = raw::gunzip(bytes, V2_HEADER as u64)?;
        let header = Header::parse(&head)?;
        let total = header.data_end()?;
        // One byte more than needed, so a complete stream is read to its end and its CRC checked.
        let all = raw::gunzip(bytes, total.saturating_add(1))?;
        header.image(&all)
    } else {
        Header::parse(bytes)?.image(bytes)
    }
}

/// How to stream the voxels of the NIfTI file `path` ([`crate::SlabReader`]).
pub(crate) fn stream_plan(path: &Path) -> Result<Option<StreamPlan>, IoError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| IoError::io(path, e))?;
    // Enough of the file for the header, compressed or not.
    let mut start = Vec::new();
    (&mut file)
        .take(1 << 16)
        .read_to_end(&mut start)
        .map_err(|e| IoError::io(path, e))?;
    let gzip = raw::is_gzip(&start);
    let head = if gzip {
        raw::gunzip(&start, V2_HEADER as u64)?
    } else {
        start
    };
    let header = Header::parse(&head)?;
    header.data_end()?;
    Ok(Some(StreamPlan {
        geometry: header.geometry()?,
        raw: header.raw,
        big_endian: header.big_endian,
        scale: header.scale(),
        data_path: path.to_path_buf(),
        file_offset: 0,
        gzip,
        skip: header.offset(),
    }))
}

/// Writes `image` to `path`: gzipped when the name ends in `.gz`, raw otherwise. The file is
/// written to a temporary name in the same folder and renamed, so a failed write leaves no
/// partial file. NIfTI-2 is used when `version` is `V2` or a size exceeds 32767.
pub fn write(path: &Path, image: &AnyImage, version: NiftiVersion) -> Result<(), IoError> {
    let bytes = to_bytes(image, version);
    if raw::name_ends_with(path, ".gz") {
        raw::write_atomic(path, &raw::gzip(&bytes))
    } else {
        raw::write_atomic(path, &bytes)
    }
}

/// The uncompressed `.nii` bytes of `image`: header, 4 zero extension bytes, voxels.
pub fn to_bytes(image: &AnyImage, version: NiftiVersion) -> Vec<u8> {
    let g = image.geometry();
    let version = if g.size().iter().any(|&s| s > i16::MAX as usize) {
        NiftiVersion::V2
    } else {
        version
    };
    let (datatype, bitpix) = datatype_of(image.voxel_type());
    let size = g.size();
    let spacing = g.spacing();

    // Index → RAS affine: negate the x and y rows of the LPS affine.
    let mut affine = g.affine_lps();
    for row in affine.iter_mut().take(2) {
        for v in row.iter_mut() {
            *v = -*v;
        }
    }
    let mut dir_ras = g.direction();
    for row in dir_ras.iter_mut().take(2) {
        for v in row.iter_mut() {
            *v = -*v;
        }
    }
    let (quat, qfac) = quaternion_of(&dir_ras);
    let pixdim = [qfac, spacing[0], spacing[1], spacing[2], 1.0, 1.0, 1.0, 1.0];
    let dims = [
        3i64,
        size[0] as i64,
        size[1] as i64,
        size[2] as i64,
        1,
        1,
        1,
        1,
    ];

    let mut out;
    match version {
        NiftiVersion::V1 => {
            out = vec![0u8; V1_OFFSET];
            let mut w = Writer(&mut out);
            w.i32(0, V1_HEADER as i32);
            w.bytes(38, b"r");
            for (n, d) in dims.iter().enumerate() {
                w.i16(40 + 2 * n, *d as i16);
            }
            w.i16(70, datatype);
            w.i16(72, bitpix);
            for (n, p) in pixdim.iter().enumerate() {
                w.f32(76 + 4 * n, *p as f32);
            }
            w.f32(108, V1_OFFSET as f32);
            w.f32(112, 1.0);
            w.f32(116, 0.0);
            w.bytes(123, &[2]); // xyzt_units: mm
            w.bytes(148, b"voxide");
            w.i16(252, 1); // qform_code: scanner
            w.i16(254, 1); // sform_code: scanner
            for n in 0..3 {
                w.f32(256 + 4 * n, quat[n] as f32);
                w.f32(268 + 4 * n, affine[n][3] as f32);
            }
            for (r, row) in affine.iter().take(3).enumerate() {
                for (c, v) in row.iter().enumerate() {
                    w.f32(280 + 16 * r + 4 * c, *v as f32);
                }
            }
            w.bytes(344, MAGIC_V1);
        }
        NiftiVersion::V2 => {
            out = vec![0u8; V2_OFFSET];
            let mut w = Writer(&mut out);
            w.i32(0, V2_HEADER as i32);
            w.bytes(4, MAGIC_V2);
            w.i16(12, datatype);
            w.i16(14, bitpix);
            for (n, d) in dims.iter().enumerate() {
                w.i64(16 + 8 * n, *d);
            }
            for (n, p) in pixdim.iter().enumerate() {
                w.f64(104 + 8 * n, *p);
            }
            w.i64(168, V2_OFFSET as i64);
            w.f64(176, 1.0);
            w.f64(184, 0.0);
            w.bytes(240, b"voxide");
            w.i32(344, 1);
            w.i32(348, 1);
            for n in 0..3 {
                w.f64(352 + 8 * n, quat[n]);
                w.f64(376 + 8 * n, affine[n][3]);
            }
            for (r, row) in affine.iter().take(3).enumerate() {
                for (c, v) in row.iter().enumerate() {
                    w.f64(400 + 32 * r + 8 * c, *v);
                }
            }
            w.i32(500, 2); // xyzt_units: mm
        }
    }
    raw::encode_le(image, &mut out);
    out
}

fn datatype_of(t: VoxelType) -> (i16, i16) {
    match t {
        VoxelType::U8 => (2, 8),
        VoxelType::I16 => (4, 16),
        VoxelType::I32 => (8, 32),
        VoxelType::F32 => (16, 32),
        VoxelType::F64 => (64, 64),
        VoxelType::U16 => (512, 16),
    }
}

/// Little-endian header field writer (offsets are within the preallocated header).
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn bytes(&mut self, at: usize, b: &[u8]) {
        self.0[at..at + b.len()].copy_from_slice(b);
    }
    fn i16(&mut self, at: usize, v: i16) {
        self.bytes(at, &v.to_le_bytes());
    }
    fn i32(&mut self, at: usize, v: i32) {
        self.bytes(at, &v.to_le_bytes());
    }
    fn i64(&mut self, at: usize, v: i64) {
        self.bytes(at, &v.to_le_bytes());
    }
    fn f32(&mut self, at: usize, v: f32) {
        self.bytes(at, &v.to_le_bytes());
    }
    fn f64(&mut self, at: usize, v: f64) {
        self.bytes(at, &v.to_le_bytes());
    }
}

/// Header field reader; the caller checks the length first, and out-of-range reads give zeros.
struct Fields<'a> {
    b: &'a [u8],
    big: bool,
}

impl Fields<'_> {
    fn arr<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut a = [0u8; N];
        if let Some(s) = self.b.get(at..at + N) {
            a.copy_from_slice(s);
        }
        if self.big {
            a.reverse();
        }
        a
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_le_bytes(self.arr(at))
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.arr(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_le_bytes(self.arr(at))
    }
    fn f32(&self, at: usize) -> f64 {
        f64::from(f32::from_le_bytes(self.arr(at)))
    }
    fn f64(&self, at: usize) -> f64 {
        f64::from_le_bytes(self.arr(at))
    }
}

/// The header fields voxide uses, NIfTI-1 values widened to the NIfTI-2 types.
#[derive(Debug)]
struct Header {
    version: NiftiVersion,
    big_endian: bool,
    dim: [i64; 8],
    datatype: i16,
    pixdim: [f64; 8],
    vox_offset: f64,
    scl_slope: f64,
    scl_inter: f64,
    xyzt_units: i32,
    qform_code: i32,
    sform_code: i32,
    quatern: [f64; 3],
    qoffset: [f64; 3],
    srow: [[f64; 4]; 3],
    /// Checked voxel grid size and data type (filled by `parse`).
    size: [usize; 3],
    raw: RawType,
    data_len: u64,
}

impl Header {
    fn parse(b: &[u8]) -> Result<Self, IoError> {
        if b.len() < 4 {
            return Err(IoError::truncated(
                "a NIfTI header (sizeof_hdr field)",
                4,
                b.len() as u64,
            ));
        }
        let le = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let be = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let (version, big_endian) = match (le, be) {
            (348, _) => (NiftiVersion::V1, false),
            (540, _) => (NiftiVersion::V2, false),
            (_, 348) => (NiftiVersion::V1, true),
            (_, 540) => (NiftiVersion::V2, true),
            _ => {
                return Err(IoError::malformed(format!(
                    "not a NIfTI file: sizeof_hdr is {le} (little endian) / {be} (big endian), \
                     NIfTI-1 has 348 and NIfTI-2 540; check that this is a .nii file"
                )));
            }
        };
        let need = match version {
            NiftiVersion::V1 => V1_HEADER,
            NiftiVersion::V2 => V2_HEADER,
        };
        if b.len() < need {
            return Err(IoError::truncated(
                format!("a {version:?} NIfTI header"),
                need as u64,
                b.len() as u64,
            ));
        }
        let f = Fields { b, big: big_endian };
        let mut h = match version {
            NiftiVersion::V1 => {
                check_magic(&b[344..348], b"n+1\0", b"ni1\0")?;
                Header {
                    version,
                    big_endian,
                    dim: std::array::from_fn(|n| i64::from(f.i16(40 + 2 * n))),
                    datatype: f.i16(70),
                    pixdim: std::array::from_fn(|n| f.f32(76 + 4 * n)),
                    vox_offset: f.f32(108),
                    scl_slope: f.f32(112),
                    scl_inter: f.f32(116),
                    xyzt_units: i32::from(b[123]),
                    qform_code: i32::from(f.i16(252)),
                    sform_code: i32::from(f.i16(254)),
                    quatern: std::array::from_fn(|n| f.f32(256 + 4 * n)),
                    qoffset: std::array::from_fn(|n| f.f32(268 + 4 * n)),
                    srow: std::array::from_fn(|r| {
                        std::array::from_fn(|c| f.f32(280 + 16 * r + 4 * c))
                    }),
                    size: [0; 3],
                    raw: RawType::U8,
                    data_len: 0,
                }
            }
            NiftiVersion::V2 => {
                check_magic(&b[4..8], b"n+2\0", b"ni2\0")?;
                Header {
                    version,
                    big_endian,
                    dim: std::array::from_fn(|n| f.i64(16 + 8 * n)),
                    datatype: f.i16(12),
                    pixdim: std::array::from_fn(|n| f.f64(104 + 8 * n)),
                    vox_offset: f.i64(168) as f64,
                    scl_slope: f.f64(176),
                    scl_inter: f.f64(184),
                    xyzt_units: f.i32(500),
                    qform_code: f.i32(344),
                    sform_code: f.i32(348),
                    quatern: std::array::from_fn(|n| f.f64(352 + 8 * n)),
                    qoffset: std::array::from_fn(|n| f.f64(376 + 8 * n)),
                    srow: std::array::from_fn(|r| {
                        std::array::from_fn(|c| f.f64(400 + 32 * r + 8 * c))
                    }),
                    size: [0; 3],
                    raw: RawType::U8,
                    data_len: 0,
                }
            }
        };
        h.check()?;
        Ok(h)
    }

    /// Validates dimensions and data type, filling `size`, `raw` and `data_len`.
    fn check(&mut self) -> Result<(), IoError> {
        let ndim = self.dim[0];
        if !(1..=7).contains(&ndim) {
            return Err(IoError::malformed(format!(
                "dim[0] (number of dimensions) is {ndim}, must be 1 to 7; the header is corrupt"
            )));
        }
        let ndim = ndim as usize;
        for n in 1..=ndim {
            if self.dim[n] < 1 {
                return Err(IoError::malformed(format!(
                    "dim[{n}] is {}, sizes must be at least 1; the header is corrupt",
                    self.dim[n]
                )));
            }
        }
        if let Some(n) = (4..=ndim).find(|&n| self.dim[n] > 1) {
            return Err(IoError::unsupported(format!(
                "{ndim}D NIfTI (time series or vector data, dim[{n}] = {}) is not supported yet; \
                 extract one 3D volume first (e.g. with fslroi or nibabel)",
                self.dim[n]
            )));
        }
        let mut size = [1usize; 3];
        for (n, s) in size.iter_mut().enumerate().take(ndim.min(3)) {
            *s = usize::try_from(self.dim[n + 1]).map_err(|_| {
                IoError::malformed(format!("dim[{}] = {} is too large", n + 1, self.dim[n + 1]))
            })?;
        }
        self.raw = raw_type(self.datatype)?;
        let voxels = size
            .iter()
            .try_fold(1u64, |acc, &s| acc.checked_mul(s as u64))
            .filter(|&v| usize::try_from(v).is_ok());
        self.data_len = voxels
            .and_then(|v| v.checked_mul(self.raw.size() as u64))
            .filter(|&v| usize::try_from(v).is_ok())
            .ok_or_else(|| {
                IoError::malformed(format!(
                    "dimensions {}x{}x{} of {} overflow the address space; the header is corrupt",
                    size[0],
                    size[1],
                    size[2],
                    self.raw.name()
                ))
            })?;
        self.size = size;
        if !self.vox_offset.is_finite() || self.vox_offset < 0.0 {
            return Err(IoError::malformed(format!(
                "vox_offset is {}, must be a non-negative byte offset; the header is corrupt",
                self.vox_offset
            )));
        }
        Ok(())
    }

    /// Byte offset of the first voxel.
    fn offset(&self) -> u64 {
        let (header, default) = match self.version {
            NiftiVersion::V1 => (V1_HEADER, V1_OFFSET),
            NiftiVersion::V2 => (V2_HEADER, V2_OFFSET),
        };
        // Single-file NIfTI data cannot start inside the header; writers that leave 0 mean the
        // default position after the 4 extension bytes.
        let off = self.vox_offset.floor();
        if off < header as f64 {
            default as u64
        } else if off >= u64::MAX as f64 {
            u64::MAX
        } else {
            off as u64
        }
    }

    /// Byte position just past the last voxel.
    fn data_end(&self) -> Result<u64, IoError> {
        self.offset().checked_add(self.data_len).ok_or_else(|| {
            IoError::malformed(format!(
                "vox_offset {} plus {} data bytes overflows; the header is corrupt",
                self.vox_offset, self.data_len
            ))
        })
    }

    /// Decodes the image from the whole (decompressed) file `b`.
    fn image(&self, b: &[u8]) -> Result<AnyImage, IoError> {
        let start = self.offset();
        let end = self.data_end()?;
        let data = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| b.get(s..e))
            .ok_or_else(|| {
                IoError::truncated(
                    format!(
                        "header says {}x{}x{} {} voxels from byte {start}",
                        self.size[0],
                        self.size[1],
                        self.size[2],
                        self.raw.name()
                    ),
                    end,
                    b.len() as u64,
                )
            })?;
        let geometry = self.geometry()?;
        raw::build_image(geometry, self.raw, data, self.big_endian, self.scale())
    }

    /// `scl_slope` and `scl_inter` when they change the values.
    fn scale(&self) -> Option<(f64, f64)> {
        (self.scl_slope.is_finite()
            && self.scl_slope != 0.0
            && (self.scl_slope, self.scl_inter) != (1.0, 0.0))
            .then(|| {
                let inter = if self.scl_inter.is_finite() {
                    self.scl_inter
                } else {
                    0.0
                };
                (self.scl_slope, inter)
            })
    }

    /// Voxel grid geometry in LPS: sform, else qform, else pixdim (see the module docs).
    fn geometry(&self) -> Result<Geometry, IoError> {
        let unit = match self.xyzt_units & 0x07 {
            1 => 1000.0, // metres
            3 => 0.001,  // microns
            _ => 1.0,    // mm, or unknown
        };
        let build = |ras: [[f64; 4]; 4]| -> Result<Geometry, IoError> {
            let mut lps = ras;
            for (r, row) in lps.iter_mut().take(3).enumerate() {
                let sign = if r < 2 { -unit } else { unit };
                for v in row.iter_mut() {
                    *v *= sign;
                }
            }
            Geometry::from_affine_lps(self.size, &lps).map_err(IoError::geometry)
        };
        if self.sform_code > 0 {
            let mut a = [[0.0; 4]; 4];
            a[..3].copy_from_slice(&self.srow);
            a[3][3] = 1.0;
            match build(a) {
                Ok(g) => return Ok(g),
                // A degenerate sform (e.g. all zeros) falls back to the qform or pixdim.
                Err(e) if self.qform_code <= 0 => {
                    return build(self.pixdim_affine()).map_err(|_| e);
                }
                Err(_) => {}
            }
        }
        if self.qform_code > 0 {
            return build(self.qform_affine());
        }
        build(self.pixdim_affine())
    }

    fn spacing(&self) -> [f64; 3] {
        std::array::from_fn(|n| {
            let p = self.pixdim[n + 1];
            if p.is_finite() && p != 0.0 {
                p.abs()
            } else {
                1.0
            }
        })
    }

    /// NIfTI method 1: `x = pixdim[1] * i`, ...
    fn pixdim_affine(&self) -> [[f64; 4]; 4] {
        let s = self.spacing();
        [
            [s[0], 0.0, 0.0, 0.0],
            [0.0, s[1], 0.0, 0.0],
            [0.0, 0.0, s[2], 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    }

    /// NIfTI method 2: rotation from the quaternion, `qfac = pixdim[0]` (0 read as 1).
    fn qform_affine(&self) -> [[f64; 4]; 4] {
        let r = quaternion_to_matrix(self.quatern);
        let s = self.spacing();
        let qfac = if self.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let scale = [s[0], s[1], s[2] * qfac];
        let mut a = [[0.0; 4]; 4];
        for row in 0..3 {
            for col in 0..3 {
                a[row][col] = r[row][col] * scale[col];
            }
            a[row][3] = self.qoffset[row];
        }
        a[3][3] = 1.0;
        a
    }
}

fn check_magic(found: &[u8], single: &[u8; 4], pair: &[u8; 4]) -> Result<(), IoError> {
    if found == single {
        Ok(())
    } else if found == pair {
        Err(IoError::unsupported(format!(
            "NIfTI header/image pair (magic {:?}, .hdr + .img) is not supported; convert it to a \
             single .nii file (e.g. with nibabel or fslchfiletype)",
            String::from_utf8_lossy(&pair[..3])
        )))
    } else {
        Err(IoError::malformed(format!(
            "not a NIfTI file: magic is {found:02x?}, expected {:?}; check that this is a .nii file",
            String::from_utf8_lossy(&single[..3])
        )))
    }
}

fn raw_type(datatype: i16) -> Result<RawType, IoError> {
    Ok(match datatype {
        2 => RawType::U8,
        4 => RawType::I16,
        8 => RawType::I32,
        16 => RawType::F32,
        64 => RawType::F64,
        256 => RawType::I8,
        512 => RawType::U16,
        768 => RawType::U32,
        1024 => RawType::I64,
        1280 => RawType::U64,
        other => {
            let name = match other {
                0 => "unknown (0)",
                1 => "binary (1 bit)",
                32 => "complex64",
                128 => "RGB24",
                1536 => "float128",
                1792 => "complex128",
                2048 => "complex256",
                2304 => "RGBA32",
                _ => {
                    return Err(IoError::malformed(format!(
                        "datatype code {other} is not a NIfTI datatype; the header is corrupt"
                    )));
                }
            };
            return Err(IoError::unsupported(format!(
                "NIfTI datatype {name} is not supported (scalar integer and float images only); \
                 convert the image to a scalar type first"
            )));
        }
    })
}

/// Rotation matrix of a NIfTI quaternion `(b, c, d)`, `a` implied (as nifti1_io computes it).
fn quaternion_to_matrix([b, c, d]: [f64; 3]) -> Mat3 {
    let (mut b, mut c, mut d) = (b, c, d);
    let mut a = 1.0 - (b * b + c * c + d * d);
    if a < 1e-7 {
        // Numerically a 180° rotation: renormalise (b, c, d), a = 0.
        let n = (b * b + c * c + d * d).sqrt();
        if n > 0.0 {
            b /= n;
            c /= n;
            d /= n;
        }
        a = 0.0;
    } else {
        a = a.sqrt();
    }
    [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ]
}

/// NIfTI quaternion `(b, c, d)` and `qfac` of a direction matrix (columns = axes, RAS).
///
/// A left-handed matrix (det < 0) gets `qfac = -1` and its third column negated; the matrix is
/// orthonormalised first (the qform can only hold a rotation; the sform keeps the exact axes).
fn quaternion_of(direction: &Mat3) -> ([f64; 3], f64) {
    let col = |m: &Mat3, c: usize| [m[0][c], m[1][c], m[2][c]];
    let qfac = if det(direction) < 0.0 { -1.0 } else { 1.0 };
    // Gram-Schmidt on the columns, third column sign-flipped for qfac.
    let normalize = |v: [f64; 3]| {
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if n > 0.0 {
            v.map(|x| x / n)
        } else {
            v
        }
    };
    let dot = voxide_core::geometry::dot;
    let x = normalize(col(direction, 0));
    let y0 = col(direction, 1);
    let y = normalize(std::array::from_fn(|i| y0[i] - dot(x, y0) * x[i]));
    let z = voxide_core::geometry::cross(x, y);
    // With qfac = -1 the stored rotation's third column is -(third axis) = x × y; with
    // qfac = +1 it is the third axis itself, which for a right-handed frame is also x × y.
    let r: Mat3 = std::array::from_fn(|row| [x[row], y[row], z[row]]);

    let (r11, r12, r13) = (r[0][0], r[0][1], r[0][2]);
    let (r21, r22, r23) = (r[1][0], r[1][1], r[1][2]);
    let (r31, r32, r33) = (r[2][0], r[2][1], r[2][2]);
    let trace = r11 + r22 + r33 + 1.0;
    let (a, b, c, d) = if trace > 0.5 {
        let a = 0.5 * trace.sqrt();
        (
            a,
            0.25 * (r32 - r23) / a,
            0.25 * (r13 - r31) / a,
            0.25 * (r21 - r12) / a,
        )
    } else {
        let xd = 1.0 + r11 - (r22 + r33);
        let yd = 1.0 + r22 - (r11 + r33);
        let zd = 1.0 + r33 - (r11 + r22);
        if xd > 1.0 {
            let b = 0.5 * xd.sqrt();
            (
                0.25 * (r32 - r23) / b,
                b,
                0.25 * (r12 + r21) / b,
                0.25 * (r13 + r31) / b,
            )
        } else if yd > 1.0 {
            let c = 0.5 * yd.sqrt();
            (
                0.25 * (r13 - r31) / c,
                0.25 * (r12 + r21) / c,
                c,
                0.25 * (r23 + r32) / c,
            )
        } else {
            let d = 0.5 * zd.sqrt();
            (
                0.25 * (r21 - r12) / d,
                0.25 * (r13 + r31) / d,
                0.25 * (r23 + r32) / d,
                d,
            )
        }
    };
    // (a, b, c, d) and its negation are the same rotation; NIfTI stores the one with a >= 0.
    let sign = if a < 0.0 { -1.0 } else { 1.0 };
    let (b, c, d) = (sign * b, sign * c, sign * d);
    ([b, c, d], qfac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rot(ax: f64, ay: f64, az: f64) -> Mat3 {
        let (sx, cx) = ax.sin_cos();
        let (sy, cy) = ay.sin_cos();
        let (sz, cz) = az.sin_cos();
        let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
        let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
        let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
        mul(&rz, &mul(&ry, &rx))
    }

    fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
        std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| a[r][k] * b[k][c]).sum()))
    }

    #[test]
    fn quaternion_round_trips_rotations_and_reflections() {
        let angles = [
            (0.0, 0.0, 0.0),
            (0.0, 0.0, std::f64::consts::PI),
            (std::f64::consts::PI, 0.0, 0.0),
            (0.0, std::f64::consts::PI, 0.0),
            (0.3, -0.2, 1.1),
            (2.9, 0.4, -3.0),
            (-1.2, 1.5, 0.7),
        ];
        for (ax, ay, az) in angles {
            for flip in [1.0, -1.0] {
                let mut m = rot(ax, ay, az);
                for row in m.iter_mut() {
                    row[2] *= flip;
                }
                let (q, qfac) = quaternion_of(&m);
                assert_eq!(qfac, flip);
                let mut back = quaternion_to_matrix(q);
                for row in back.iter_mut() {
                    row[2] *= qfac;
                }
                for r in 0..3 {
                    for c in 0..3 {
                        assert!(
                            (back[r][c] - m[r][c]).abs() < 1e-12,
                            "{m:?} -> {q:?} -> {back:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn identity_lps_is_the_usual_quaternion() {
        // LPS identity is RAS diag(-1, -1, 1): 180° about z, quaternion (0, 0, 1), as in
        // files written by ITK and dcm2niix.
        let ras = [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]];
        let (q, qfac) = quaternion_of(&ras);
        assert_eq!((q, qfac), ([0.0, 0.0, 1.0], 1.0));
    }
}
