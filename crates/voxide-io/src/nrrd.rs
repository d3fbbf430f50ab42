//! NRRD images (`.nrrd` with attached data, `.nhdr` detached headers).
//!
//! Reading follows the NRRD format definition (magics `NRRD0001` to `NRRD0005`): every scalar
//! `type` spelling; encodings `raw`, `gzip`, `ascii` and `hex` (`bzip2` is not supported);
//! `endian`; detached `data file` (one file, relative to the header's folder); `line skip` and
//! `byte skip` (`-1` with raw data: the data are the last bytes of the file; with gzip, bytes
//! are skipped in the decompressed stream, as teem does). Field names are matched without
//! regard to case; `key:=value` pairs, comments and fields voxide has no use for are ignored.
//!
//! Geometry: `space` `left-posterior-superior`/`LPS` and `scanner-xyz` are LPS;
//! `right-anterior-superior`/`RAS` and `left-anterior-superior`/`LAS` are converted to LPS;
//! other spaces are unsupported. `space directions` give the axes (a `none` axis must have size
//! 1 and is dropped), `space origin` the position of the first voxel. Without `space
//! directions`, `spacings` (default 1) on an identity direction with origin 0. A 2D image gets
//! one slice, its third axis normal to the other two.
//!
//! Voxel types: `uchar` → `U8`; `short` → `I16`; `ushort` → `U16`; `int` → `I32`; `float` →
//! `F32`; `double` → `F64`; `signed char` widens to `I16`; `uint`, `longlong` and
//! `ulonglong` become `F64` (exact up to 2^53).
//!
//! Writing produces `NRRD0004`, `space: left-posterior-superior`, full-precision `space
//! directions` and `space origin` (Rust prints the shortest decimal that reads back to the same
//! f64, so the geometry round-trips), little endian, `encoding: gzip`.

use std::path::{Path, PathBuf};

use voxide_core::geometry::cross;
use voxide_core::{AnyImage, Geometry, Image, VoxelType};

use crate::raw::{self, RawType};
use crate::slabs::StreamPlan;
use crate::IoError;

/// Reads a `.nrrd` file, or a `.nhdr` header and the data file it names.
pub fn read(path: &Path) -> Result<AnyImage, IoError> {
    let bytes = raw::read_file(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    read_bytes(&bytes, Some(dir)).map_err(|e| e.in_file(path))
}

/// Reads a NRRD image from memory.
///
/// `base_dir` is the folder that relative `data file` names of a detached header refer to;
/// with `None`, a detached header is an error.
pub fn read_bytes(bytes: &[u8], base_dir: Option<&Path>) -> Result<AnyImage, IoError> {
    let header = Header::parse(bytes)?;
    let geometry = header.geometry()?;
    let count = header.voxels()?;
    let need = count.checked_mul(header.raw.size() as u64).ok_or_else(|| {
        IoError::malformed(format!(
            "sizes {:?} of {} overflow the address space; the header is corrupt",
            header.sizes,
            header.raw.name()
        ))
    })?;
    if usize::try_from(need).is_err() {
        return Err(IoError::malformed(format!(
            "sizes {:?} need {need} bytes, more than this machine can address",
            header.sizes
        )));
    }

    let detached;
    let source: &[u8] = match &header.data_file {
        Some(name) => {
            let path = data_file_path(name, base_dir)?;
            detached = raw::read_file(&path)?;
            &detached
        }
        None => &bytes[header.data_start.min(bytes.len())..],
    };
    let source = skip_lines(source, header.line_skip)?;
    let describe = || {
        format!(
            "header says {} {} voxels ({} encoding)",
            header
                .sizes
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("x"),
            header.raw.name(),
            header.encoding.name()
        )
    };

    let decoded;
    let data: &[u8] = match header.encoding {
        Encoding::Raw => {
            let start = if header.byte_skip == -1 {
                source.len().checked_sub(need as usize)
            } else {
                Some(header.byte_skip as usize)
            };
            start
                .and_then(|s| source.get(s..s.checked_add(need as usize)?))
                .ok_or_else(|| {
                    let skip = header.byte_skip.max(0) as u64;
                    IoError::truncated(describe(), need.saturating_add(skip), source.len() as u64)
                })?
        }
        Encoding::Gzip => {
            if header.byte_skip == 0 {
                if let Some(image) = gunzip_native(
                    &geometry,
                    header.raw,
                    source,
                    count as usize,
                    header.big_endian,
                ) {
                    return image;
                }
            }
            let skip = header.byte_skip as u64;
            let limit = need.saturating_add(skip).saturating_add(1);
            decoded = raw::gunzip(source, limit)?;
            (skip as usize)
                .checked_add(need as usize)
                .and_then(|end| decoded.get(skip as usize..end))
                .ok_or_else(|| {
                    IoError::truncated(
                        format!("{} after decompression", describe()),
                        need.saturating_add(skip),
                        decoded.len() as u64,
                    )
                })?
        }
        Encoding::Ascii => {
            let text = source.get(header.byte_skip as usize..).unwrap_or(&[]);
            return ascii_image(geometry, header.raw, text, count as usize, &describe());
        }
        Encoding::Hex => {
            let text = source.get(header.byte_skip as usize..).unwrap_or(&[]);
            decoded = unhex(text, need as usize)?;
            if decoded.len() < need as usize {
                return Err(IoError::truncated(describe(), need, decoded.len() as u64));
            }
            &decoded
        }
    };
    raw::build_image(geometry, header.raw, data, header.big_endian, None)
}

/// How to stream the voxels of the NRRD file `path` ([`crate::SlabReader`]); `None` when its
/// encoding or line skips need a whole-file read.
pub(crate) fn stream_plan(path: &Path) -> Result<Option<StreamPlan>, IoError> {
    use std::io::Read;
    // The header ends at the first blank line; read until one shows up (or the file ends).
    let mut file = std::fs::File::open(path).map_err(|e| IoError::io(path, e))?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = file.read(&mut chunk).map_err(|e| IoError::io(path, e))?;
        head.extend_from_slice(&chunk[..n]);
        let ended =
            head.windows(2).any(|w| w == b"\n\n") || head.windows(3).any(|w| w == b"\n\r\n");
        if n == 0 || ended || head.len() > 1 << 20 {
            break;
        }
    }
    let header = Header::parse(&head)?;
    let geometry = header.geometry()?;
    let streams = matches!(header.encoding, Encoding::Raw | Encoding::Gzip)
        && header.line_skip == 0
        && header.byte_skip >= 0;
    if !streams {
        return Ok(None);
    }
    let (data_path, offset) = match &header.data_file {
        Some(name) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            (data_file_path(name, Some(dir))?, 0u64)
        }
        None => (path.to_path_buf(), header.data_start as u64),
    };
    Ok(Some(StreamPlan {
        geometry,
        raw: header.raw,
        big_endian: header.big_endian,
        scale: None,
        data_path,
        file_offset: offset,
        gzip: header.encoding == Encoding::Gzip,
        skip: header.byte_skip as u64,
    }))
}

/// The gzip fast path for the scalar types an [`AnyImage`] stores as they are; `None` when the
/// type widens or the stream is not exactly the voxels the header announces.
fn gunzip_native(
    geometry: &Geometry,
    raw: RawType,
    source: &[u8],
    count: usize,
    big_endian: bool,
) -> Option<Result<AnyImage, IoError>> {
    fn build<T: bytemuck::Pod + voxide_core::Voxel>(
        geometry: &Geometry,
        source: &[u8],
        count: usize,
        big_endian: bool,
        wrap: fn(Image<T>) -> AnyImage,
    ) -> Option<Result<AnyImage, IoError>> {
        let data = raw::gunzip_exact::<T>(source, count, big_endian)?;
        Some(
            Image::from_vec(geometry.clone(), data)
                .map(wrap)
                .map_err(IoError::from),
        )
    }
    let (g, s, n, b) = (geometry, source, count, big_endian);
    match raw {
        RawType::U8 => build(g, s, n, b, AnyImage::U8),
        RawType::I16 => build(g, s, n, b, AnyImage::I16),
        RawType::U16 => build(g, s, n, b, AnyImage::U16),
        RawType::I32 => build(g, s, n, b, AnyImage::I32),
        RawType::F32 => build(g, s, n, b, AnyImage::F32),
        RawType::F64 => build(g, s, n, b, AnyImage::F64),
        _ => None,
    }
}

/// Writes `image` as a gzip-compressed `.nrrd` with attached data, atomically (temporary file
/// in the same folder, then rename). Detached `.nhdr` output is not supported.
pub fn write(path: &Path, image: &AnyImage) -> Result<(), IoError> {
    if raw::name_ends_with(path, ".nhdr") {
        return Err(IoError::Unsupported {
            file: path.display().to_string(),
            what: "writing detached NRRD headers (.nhdr) is not supported; write a .nrrd file \
                   (attached, gzip-compressed data) instead"
                .into(),
        });
    }
    raw::write_atomic(path, &to_bytes(image))
}

/// The bytes of a `.nrrd` file (attached, gzip-compressed data) holding `image`.
pub fn to_bytes(image: &AnyImage) -> Vec<u8> {
    let g = image.geometry();
    let size = g.size();
    let a = g.affine_lps();
    let vector = |c: usize| format!("({},{},{})", a[0][c], a[1][c], a[2][c]);
    let type_name = match image.voxel_type() {
        VoxelType::U8 => "unsigned char",
        VoxelType::I16 => "short",
        VoxelType::U16 => "unsigned short",
        VoxelType::I32 => "int",
        VoxelType::F32 => "float",
        VoxelType::F64 => "double",
    };
    let header = format!(
        "NRRD0004\n\
         # Complete NRRD file format specification at:\n\
         # http://teem.sourceforge.net/nrrd/format.html\n\
         type: {type_name}\n\
         dimension: 3\n\
         space: left-posterior-superior\n\
         sizes: {} {} {}\n\
         space directions: {} {} {}\n\
         kinds: domain domain domain\n\
         endian: little\n\
         encoding: gzip\n\
         space origin: ({},{},{})\n\n",
        size[0],
        size[1],
        size[2],
        vector(0),
        vector(1),
        vector(2),
        a[0][3],
        a[1][3],
        a[2][3],
    );
    let mut voxels = Vec::new();
    raw::encode_le(image, &mut voxels);
    let mut out = header.into_bytes();
    out.extend_from_slice(&raw::gzip(&voxels));
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Raw,
    Gzip,
    Ascii,
    Hex,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Gzip => "gzip",
            Encoding::Ascii => "ascii",
            Encoding::Hex => "hex",
        }
    }
}

/// Conversion of the file's space to LPS: factors for x, y, z.
type Frame = [f64; 3];

#[derive(Debug)]
struct Header {
    raw: RawType,
    sizes: Vec<usize>,
    frame: Option<Frame>,
    space_dimension: Option<usize>,
    directions: Option<Vec<Option<Vec<f64>>>>,
    origin: Option<Vec<f64>>,
    spacings: Option<Vec<f64>>,
    big_endian: bool,
    encoding: Encoding,
    data_file: Option<String>,
    line_skip: usize,
    byte_skip: i64,
    /// Byte offset of attached data (just past the blank line ending the header).
    data_start: usize,
}

impl Header {
    fn parse(bytes: &[u8]) -> Result<Self, IoError> {
        if !bytes.starts_with(b"NRRD") {
            return Err(IoError::malformed(
                "not a NRRD file: it does not start with the magic \"NRRD000x\"; check the file type",
            ));
        }
        let mut pos = 0usize;
        let mut lines = Vec::new();
        let mut data_start = None;
        while pos < bytes.len() {
            let end = bytes[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |e| pos + e);
            let mut line = &bytes[pos..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            pos = (end + 1).min(bytes.len());
            if line.is_empty() {
                data_start = Some(pos);
                break;
            }
            let text = std::str::from_utf8(line).map_err(|_| {
                IoError::malformed(format!(
                    "header line {} is not text (UTF-8); the header is corrupt or the blank line \
                     before the data is missing",
                    lines.len() + 1
                ))
            })?;
            lines.push(text);
        }
        let magic = lines.first().copied().unwrap_or("");
        match magic.strip_prefix("NRRD000") {
            Some("1" | "2" | "3" | "4" | "5") => {}
            _ => {
                return Err(IoError::malformed(format!(
                    "unknown NRRD magic {magic:?}; NRRD0001 to NRRD0005 are readable"
                )));
            }
        }

        let mut h = Header {
            raw: RawType::U8,
            sizes: Vec::new(),
            frame: None,
            space_dimension: None,
            directions: None,
            origin: None,
            spacings: None,
            big_endian: false,
            encoding: Encoding::Raw,
            data_file: None,
            line_skip: 0,
            byte_skip: 0,
            data_start: 0,
        };
        let mut type_seen = false;
        let mut dimension = None;
        let mut sizes_text = None;
        let mut encoding_seen = false;
        for line in &lines[1..] {
            if line.starts_with('#') {
                continue;
            }
            let field = line.find(": ");
            let pair = line.find(":=");
            let (key, value) = match (field, pair) {
                (_, Some(p)) if field.is_none_or(|f| p < f) => continue, // key:=value
                (Some(f), _) => (&line[..f], line[f + 2..].trim()),
                _ => {
                    return Err(IoError::malformed(format!(
                        "header line {line:?} is neither \"field: value\", \"key:=value\" nor a \
                         comment; the header is corrupt"
                    )));
                }
            };
            let key = key.trim().to_ascii_lowercase();
            match key.as_str() {
                "type" => {
                    h.raw = parse_type(value)?;
                    type_seen = true;
                }
                "dimension" => {
                    let d: usize = parse_num(&key, value)?;
                    if !(1..=16).contains(&d) {
                        return Err(IoError::malformed(format!(
                            "dimension {d} is outside 1..16"
                        )));
                    }
                    dimension = Some(d);
                }
                "sizes" => sizes_text = Some(value),
                "space" => h.frame = Some(parse_space(value)?),
                "space dimension" => h.space_dimension = Some(parse_num(&key, value)?),
                "space directions" => h.directions = Some(parse_directions(value)?),
                "space origin" => h.origin = parse_vector(value)?,
                "spacings" => {
                    h.spacings = Some(
                        value
                            .split_whitespace()
                            .map(|t| parse_num::<f64>(&key, t))
                            .collect::<Result<_, _>>()?,
                    )
                }
                "endian" => {
                    h.big_endian = match value.to_ascii_lowercase().as_str() {
                        "little" => false,
                        "big" => true,
                        other => {
                            return Err(IoError::malformed(format!(
                                "endian {other:?} is neither little nor big"
                            )));
                        }
                    }
                }
                "encoding" => {
                    h.encoding = parse_encoding(value)?;
                    encoding_seen = true;
                }
                "data file" | "datafile" => {
                    // "LIST" (file names follow) or "<format> <min> <max> <step> [<dim>]".
                    if value.starts_with("LIST")
                        || (value.contains('%') && value.contains(char::is_whitespace))
                    {
                        return Err(IoError::unsupported(format!(
                            "data file {value:?} splits the data over several files; only one \
                             data file is supported"
                        )));
                    }
                    h.data_file = Some(value.to_string());
                }
                "line skip" | "lineskip" => h.line_skip = parse_num(&key, value)?,
                "byte skip" | "byteskip" => {
                    h.byte_skip = parse_num(&key, value)?;
                    if h.byte_skip < -1 {
                        return Err(IoError::malformed(format!(
                            "byte skip {} is invalid (must be -1 or at least 0)",
                            h.byte_skip
                        )));
                    }
                }
                _ => {} // kinds, measurement frame, content, centerings, labels, units, ...
            }
        }
        let dimension = dimension.ok_or_else(|| {
            IoError::malformed("the header has no \"dimension\" field; it is required")
        })?;
        if !type_seen {
            return Err(IoError::malformed(
                "the header has no \"type\" field; it is required",
            ));
        }
        if !encoding_seen {
            return Err(IoError::malformed(
                "the header has no \"encoding\" field; it is required",
            ));
        }
        let sizes_text = sizes_text.ok_or_else(|| {
            IoError::malformed("the header has no \"sizes\" field; it is required")
        })?;
        h.sizes = sizes_text
            .split_whitespace()
            .map(|t| parse_num::<usize>("sizes", t))
            .collect::<Result<_, _>>()?;
        if h.sizes.len() != dimension {
            return Err(IoError::malformed(format!(
                "\"sizes\" lists {} sizes but \"dimension\" is {dimension}",
                h.sizes.len()
            )));
        }
        if h.sizes.contains(&0) {
            return Err(IoError::malformed(format!(
                "sizes {:?} contain 0; every axis needs at least one sample",
                h.sizes
            )));
        }
        if h.byte_skip == -1 && h.encoding != Encoding::Raw {
            return Err(IoError::malformed(format!(
                "byte skip -1 is only valid with raw encoding, not {}",
                h.encoding.name()
            )));
        }
        match (&h.data_file, data_start) {
            (Some(_), _) => {}
            (None, Some(start)) => h.data_start = start,
            (None, None) => {
                return Err(IoError::truncated(
                    "the header has no data file and no blank line ending it, so the attached data",
                    1,
                    0,
                ));
            }
        }
        Ok(h)
    }

    fn voxels(&self) -> Result<u64, IoError> {
        self.sizes
            .iter()
            .try_fold(1u64, |acc, &s| acc.checked_mul(s as u64))
            .filter(|&n| usize::try_from(n).is_ok())
            .ok_or_else(|| {
                IoError::malformed(format!(
                    "sizes {:?} overflow the address space; the header is corrupt",
                    self.sizes
                ))
            })
    }

    fn geometry(&self) -> Result<Geometry, IoError> {
        match self.space_dimension {
            Some(sd) if sd != 3 => {
                return Err(IoError::unsupported(format!(
                    "space dimension {sd}; only 3D physical spaces are supported"
                )));
            }
            _ => {}
        }
        let frame = self.frame.unwrap_or([1.0; 3]);
        // (size, LPS axis vector or None) per spatial axis, in file order.
        let mut axes: Vec<(usize, Option<[f64; 3]>)> = Vec::new();
        if let Some(dirs) = &self.directions {
            if dirs.len() != self.sizes.len() {
                return Err(IoError::malformed(format!(
                    "\"space directions\" lists {} vectors but \"dimension\" is {}",
                    dirs.len(),
                    self.sizes.len()
                )));
            }
            for (axis, (size, dir)) in self.sizes.iter().zip(dirs).enumerate() {
                match dir {
                    Some(v) => {
                        if v.len() != 3 {
                            return Err(IoError::malformed(format!(
                                "space direction of axis {axis} has {} components, the space \
                                 has 3",
                                v.len()
                            )));
                        }
                        axes.push((*size, Some([v[0], v[1], v[2]])));
                    }
                    None if *size == 1 => {}
                    None => {
                        return Err(IoError::unsupported(format!(
                            "axis {axis} of size {size} is not spatial (space direction none): \
                             multi-component or time-series NRRD is not supported; extract a \
                             scalar 3D volume first"
                        )));
                    }
                }
            }
            if !(2..=3).contains(&axes.len()) {
                return Err(IoError::unsupported(format!(
                    "{} spatial axes; only 2D and 3D images are supported",
                    axes.len()
                )));
            }
        } else {
            let spacings = self.spacings.as_deref().unwrap_or(&[]);
            let mut all: Vec<(usize, f64)> = self
                .sizes
                .iter()
                .enumerate()
                .map(|(n, &s)| {
                    let sp = spacings.get(n).copied().filter(|v| v.is_finite());
                    (s, sp.unwrap_or(1.0))
                })
                .collect();
            // Drop singleton axes until at most three remain.
            while all.len() > 3 {
                match all.iter().position(|&(s, _)| s == 1) {
                    Some(p) => {
                        all.remove(p);
                    }
                    None => {
                        return Err(IoError::unsupported(format!(
                            "{}D NRRD with sizes {:?} (more than three non-singleton axes) is \
                             not supported; extract a scalar 3D volume first",
                            self.sizes.len(),
                            self.sizes
                        )));
                    }
                }
            }
            for (n, (s, sp)) in all.into_iter().enumerate() {
                let mut v = [0.0; 3];
                v[n] = sp;
                axes.push((s, Some(v)));
            }
        }

        let mut size = [1usize; 3];
        let mut cols = [[0.0f64; 3]; 3];
        for (n, (s, v)) in axes.iter().enumerate() {
            size[n] = *s;
            if let Some(v) = v {
                cols[n] = [v[0] * frame[0], v[1] * frame[1], v[2] * frame[2]];
            }
        }
        if axes.len() == 1 {
            cols[1] = [0.0, 1.0, 0.0];
        }
        if axes.len() <= 2 {
            // The slice normal, unit length.
            let n = cross(cols[0], cols[1]);
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            cols[2] = if len > 0.0 {
                n.map(|x| x / len)
            } else {
                [0.0, 0.0, 1.0]
            };
        }
        let origin = match &self.origin {
            Some(o) if self.directions.is_some() => {
                if o.len() != 3 {
                    return Err(IoError::malformed(format!(
                        "\"space origin\" has {} components, the space has 3",
                        o.len()
                    )));
                }
                [o[0] * frame[0], o[1] * frame[1], o[2] * frame[2]]
            }
            _ => [0.0; 3],
        };
        let mut affine = [[0.0; 4]; 4];
        for r in 0..3 {
            for (c, col) in cols.iter().enumerate() {
                affine[r][c] = col[r];
            }
            affine[r][3] = origin[r];
        }
        affine[3][3] = 1.0;
        Geometry::from_affine_lps(size, &affine).map_err(IoError::geometry)
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, IoError> {
    value.trim().parse().map_err(|_| {
        IoError::malformed(format!(
            "\"{key}\" value {value:?} is not a valid number; the header is corrupt"
        ))
    })
}

fn parse_type(value: &str) -> Result<RawType, IoError> {
    let v = value.to_ascii_lowercase();
    Ok(match v.as_str() {
        "signed char" | "int8" | "int8_t" => RawType::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => RawType::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => {
            RawType::I16
        }
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => RawType::U16,
        "int" | "signed int" | "int32" | "int32_t" => RawType::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => RawType::U32,
        "longlong"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "int64"
        | "int64_t" => RawType::I64,
        "ulonglong" | "unsigned long long" | "unsigned long long int" | "uint64" | "uint64_t" => {
            RawType::U64
        }
        "float" => RawType::F32,
        "double" => RawType::F64,
        "block" => {
            return Err(IoError::unsupported(
                "NRRD type block (opaque records) is not supported; scalar types only",
            ));
        }
        _ => {
            return Err(IoError::malformed(format!(
                "unknown NRRD type {value:?}; the header is corrupt"
            )));
        }
    })
}

fn parse_encoding(value: &str) -> Result<Encoding, IoError> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "raw" => Encoding::Raw,
        "gzip" | "gz" => Encoding::Gzip,
        "ascii" | "text" | "txt" => Encoding::Ascii,
        "hex" => Encoding::Hex,
        "bzip2" | "bz2" => {
            return Err(IoError::unsupported(
                "NRRD encoding bzip2 is not supported; re-save the file with gzip or raw \
                 encoding (e.g. unu save -e gzip, or 3D Slicer / SimpleITK with compression)",
            ));
        }
        other => {
            return Err(IoError::unsupported(format!(
                "NRRD encoding {other:?} is not supported (raw, gzip, ascii and hex are)"
            )));
        }
    })
}

fn parse_space(value: &str) -> Result<Frame, IoError> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "left-posterior-superior" | "lps" | "scanner-xyz" => [1.0, 1.0, 1.0],
        "right-anterior-superior" | "ras" => [-1.0, -1.0, 1.0],
        "left-anterior-superior" | "las" => [1.0, -1.0, 1.0],
        other => {
            return Err(IoError::unsupported(format!(
                "NRRD space {other:?} is not supported; only patient spaces (LPS, RAS, LAS, \
                 scanner-xyz) without time can be placed in LPS"
            )));
        }
    })
}

/// Parses `(a,b,c)` (or `none`, giving `None`).
fn parse_vector(value: &str) -> Result<Option<Vec<f64>>, IoError> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let inner = v
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| IoError::malformed(format!("vector {v:?} is not of the form (a,b,c)")))?;
    inner
        .split(',')
        .map(|t| parse_num::<f64>("vector component", t))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Parses `space directions`: vectors `(a,b,c)` (spaces allowed inside) or `none`.
fn parse_directions(value: &str) -> Result<Vec<Option<Vec<f64>>>, IoError> {
    let mut out = Vec::new();
    let mut rest = value.trim_start();
    while !rest.is_empty() {
        let end = if rest.starts_with('(') {
            rest.find(')').map(|e| e + 1).ok_or_else(|| {
                IoError::malformed(format!("unclosed vector in space directions {value:?}"))
            })?
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        out.push(parse_vector(&rest[..end])?);
        rest = rest[end..].trim_start();
    }
    Ok(out)
}

/// Skips `n` lines (through their `\n`).
fn skip_lines(data: &[u8], n: usize) -> Result<&[u8], IoError> {
    let mut rest = data;
    for done in 0..n {
        match rest.iter().position(|&b| b == b'\n') {
            Some(p) => rest = &rest[p + 1..],
            None => {
                return Err(IoError::Truncated {
                    file: crate::error::IN_MEMORY.into(),
                    what: "line skip".into(),
                    expected: n as u64,
                    found: done as u64,
                    unit: "lines",
                });
            }
        }
    }
    Ok(rest)
}

fn data_file_path(name: &str, base_dir: Option<&Path>) -> Result<PathBuf, IoError> {
    let p = Path::new(name);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    match base_dir {
        Some(dir) => Ok(dir.join(p)),
        None => Err(IoError::unsupported(format!(
            "detached NRRD header (data file {name:?}) read from memory without a base folder; \
             read it with nrrd::read(path) or pass the header's folder as base_dir"
        ))),
    }
}

/// Parses ASCII data (numbers separated by whitespace or commas).
fn ascii_image(
    geometry: Geometry,
    raw: RawType,
    text: &[u8],
    count: usize,
    what: &str,
) -> Result<AnyImage, IoError> {
    let text = String::from_utf8_lossy(text);
    let mut values = Vec::new();
    for token in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .take(count)
    {
        values.push(token.parse::<f64>().map_err(|_| {
            IoError::malformed(format!("ASCII data value {token:?} is not a number"))
        })?);
    }
    if values.len() < count {
        return Err(IoError::Truncated {
            file: crate::error::IN_MEMORY.into(),
            what: what.into(),
            expected: count as u64,
            found: values.len() as u64,
            unit: "values",
        });
    }
    // Re-encode as little-endian scalars of the declared type, then decode as usual.
    let mut bytes = Vec::with_capacity(count * raw.size());
    for v in values {
        match raw {
            RawType::U8 => bytes.push(v as u8),
            RawType::I8 => bytes.extend_from_slice(&(v as i8).to_le_bytes()),
            RawType::I16 => bytes.extend_from_slice(&(v as i16).to_le_bytes()),
            RawType::U16 => bytes.extend_from_slice(&(v as u16).to_le_bytes()),
            RawType::I32 => bytes.extend_from_slice(&(v as i32).to_le_bytes()),
            RawType::U32 => bytes.extend_from_slice(&(v as u32).to_le_bytes()),
            RawType::I64 => bytes.extend_from_slice(&(v as i64).to_le_bytes()),
            RawType::U64 => bytes.extend_from_slice(&(v as u64).to_le_bytes()),
            RawType::F32 => bytes.extend_from_slice(&(v as f32).to_le_bytes()),
            RawType::F64 => bytes.extend_from_slice(&v.to_le_bytes()),
        }
    }
    raw::build_image(geometry, raw, &bytes, false, None)
}

/// Decodes hex data (pairs of hex digits, whitespace ignored), at most `limit` bytes.
fn unhex(text: &[u8], limit: usize) -> Result<Vec<u8>, IoError> {
    let mut out = Vec::new();
    let mut high: Option<u8> = None;
    for &c in text {
        if out.len() >= limit {
            break;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        let nibble = (c as char).to_digit(16).ok_or_else(|| {
            IoError::malformed(format!(
                "hex data contains {:?}, not a hex digit",
                c as char
            ))
        })? as u8;
        match high.take() {
            Some(h) => out.push(h << 4 | nibble),
            None => high = Some(nibble),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_with_spaces_and_none() {
        let d = parse_directions("none (1, 0,0)  (0,-0.5,0) (0,0,2.5e0)").unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d[0], None);
        assert_eq!(d[2], Some(vec![0.0, -0.5, 0.0]));
        assert!(parse_directions("(1,0,0").is_err());
        assert!(parse_directions("(1,x,0)").is_err());
    }

    #[test]
    fn every_type_spelling() {
        for (s, t) in [
            ("short", RawType::I16),
            ("int16", RawType::I16),
            ("int16_t", RawType::I16),
            ("signed short", RawType::I16),
            ("short int", RawType::I16),
            ("signed short int", RawType::I16),
            ("ushort", RawType::U16),
            ("unsigned short", RawType::U16),
            ("uint16", RawType::U16),
            ("uint16_t", RawType::U16),
            ("unsigned short int", RawType::U16),
            ("uchar", RawType::U8),
            ("unsigned char", RawType::U8),
            ("uint8", RawType::U8),
            ("uint8_t", RawType::U8),
            ("signed char", RawType::I8),
            ("int8", RawType::I8),
            ("int8_t", RawType::I8),
            ("int", RawType::I32),
            ("int32", RawType::I32),
            ("int32_t", RawType::I32),
            ("signed int", RawType::I32),
            ("uint", RawType::U32),
            ("unsigned int", RawType::U32),
            ("uint32", RawType::U32),
            ("longlong", RawType::I64),
            ("int64", RawType::I64),
            ("ulonglong", RawType::U64),
            ("float", RawType::F32),
            ("double", RawType::F64),
        ] {
            assert_eq!(parse_type(s).unwrap(), t, "{s}");
        }
        assert!(matches!(
            parse_type("block"),
            Err(IoError::Unsupported { .. })
        ));
        assert!(matches!(
            parse_type("quaternion"),
            Err(IoError::Malformed { .. })
        ));
    }

    #[test]
    fn hex_and_line_skip() {
        assert_eq!(unhex(b"0a ff\n10", 10).unwrap(), vec![0x0a, 0xff, 0x10]);
        assert!(unhex(b"0g", 10).is_err());
        assert_eq!(skip_lines(b"a\nb\nrest", 2).unwrap(), b"rest");
        assert!(matches!(
            skip_lines(b"a\n", 2),
            Err(IoError::Truncated { .. })
        ));
    }
}
