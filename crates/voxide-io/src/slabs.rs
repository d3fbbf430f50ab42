//! Reading a volume a few slices at a time.
//!
//! Some work needs every voxel once but keeps only a small part of the image: a radiomics ROI,
//! a hash, whole-image statistics. [`SlabReader`] streams the voxels of a NIfTI or NRRD file
//! in file order as slabs of whole z-slices, through one small reused read buffer, so such
//! work runs in a few megabytes instead of the whole decoded volume plus the whole compressed
//! file. Encodings that cannot stream (NRRD ASCII/hex and line skips) are read whole and
//! handed out as one slab; the voxel values and geometry are the same as [`crate::read_image`].

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use voxide_core::{AnyImage, Geometry, VoxelType};

use crate::raw::{self, RawType};
use crate::{format_of, unknown_extension, Format, IoError};

/// Where a file's voxels are and how they are stored, as a format's header says.
#[derive(Debug)]
pub(crate) struct StreamPlan {
    pub geometry: Geometry,
    pub raw: RawType,
    pub big_endian: bool,
    /// NIfTI `scl_slope`/`scl_inter`, when they change the values.
    pub scale: Option<(f64, f64)>,
    /// The file holding the voxels.
    pub data_path: PathBuf,
    /// Where the data (raw voxels or a gzip stream) start in that file.
    pub file_offset: u64,
    /// Whether the data are gzip-compressed.
    pub gzip: bool,
    /// Bytes to skip after `file_offset` (in the decompressed stream when gzip).
    pub skip: u64,
}

/// A volume read slab by slab; see the [module docs](self).
pub struct SlabReader {
    path: PathBuf,
    geometry: Geometry,
    voxel_type: VoxelType,
    next_z: usize,
    source: Source,
}

impl std::fmt::Debug for SlabReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlabReader")
            .field("path", &self.path)
            .field("size", &self.geometry.size())
            .field("voxel_type", &self.voxel_type)
            .field("next_z", &self.next_z)
            .finish()
    }
}

enum Source {
    Stream {
        reader: Box<dyn Read + Send>,
        raw: RawType,
        big_endian: bool,
        scale: Option<(f64, f64)>,
        gzip: bool,
        buf: Vec<u8>,
    },
    Whole(Option<Box<AnyImage>>),
}

impl SlabReader {
    /// Opens `path` (NIfTI or NRRD, by extension) and reads its header.
    pub fn open(path: &Path) -> Result<SlabReader, IoError> {
        let plan = match format_of(path) {
            Some(Format::Nrrd) => crate::nrrd::stream_plan(path),
            Some(Format::Nifti) => crate::nifti::stream_plan(path),
            None => return Err(unknown_extension(path)),
        }
        .map_err(|e| e.in_file(path))?;
        let Some(plan) = plan else {
            let image = crate::read_image(path)?;
            return Ok(SlabReader {
                path: path.to_path_buf(),
                geometry: image.geometry().clone(),
                voxel_type: image.voxel_type(),
                next_z: 0,
                source: Source::Whole(Some(Box::new(image))),
            });
        };
        let io = |e| IoError::io(&plan.data_path, e);
        let mut file = File::open(&plan.data_path).map_err(io)?;
        let reader: Box<dyn Read + Send> = if plan.gzip {
            file.seek(SeekFrom::Start(plan.file_offset)).map_err(io)?;
            let mut file = BufReader::with_capacity(1 << 16, file);
            let mut magic = [0u8; 2];
            let n = file.read(&mut magic).map_err(io)?;
            if n == 2 && !raw::is_gzip(&magic) {
                return Err(raw::not_gzip(&magic).in_file(path));
            }
            let mut file = file.into_inner();
            file.seek(SeekFrom::Start(plan.file_offset)).map_err(io)?;
            let mut gz = MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file));
            skip_bytes(&mut gz, plan.skip).map_err(|e| e.in_file(path))?;
            Box::new(gz)
        } else {
            let start = plan.file_offset.saturating_add(plan.skip);
            file.seek(SeekFrom::Start(start)).map_err(io)?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        Ok(SlabReader {
            path: path.to_path_buf(),
            voxel_type: raw::voxel_type_of(plan.raw, plan.scale.is_some()),
            geometry: plan.geometry,
            next_z: 0,
            source: Source::Stream {
                reader,
                raw: plan.raw,
                big_endian: plan.big_endian,
                scale: plan.scale,
                gzip: plan.gzip,
                buf: Vec::new(),
            },
        })
    }

    /// Whether the voxels are gzip-compressed in the file (streaming them costs an inflate;
    /// an uncompressed file streams at the speed of copying).
    pub fn compressed(&self) -> bool {
        matches!(self.source, Source::Stream { gzip: true, .. })
    }

    /// The whole volume's geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The voxel type of every slab (the type [`crate::read_image`] would give).
    pub fn voxel_type(&self) -> VoxelType {
        self.voxel_type
    }

    /// The next slab of whole z-slices, with its own geometry (the volume's, moved to its first
    /// slice), holding about `voxels` voxels (at least one slice); `None` after the last.
    ///
    /// A file that ends early or holds corrupt compressed data is an error naming the file and
    /// the slice it reached.
    pub fn next_slab(&mut self, voxels: usize) -> Result<Option<AnyImage>, IoError> {
        let [nx, ny, nz] = self.geometry.size();
        match &mut self.source {
            Source::Whole(image) => {
                self.next_z = nz;
                Ok(image.take().map(|b| *b))
            }
            Source::Stream {
                reader,
                raw,
                big_endian,
                scale,
                gzip,
                buf,
            } => {
                if self.next_z >= nz {
                    return Ok(None);
                }
                let per_slice = nx * ny;
                let slices = (voxels / per_slice.max(1)).clamp(1, nz - self.next_z);
                let bytes = slices * per_slice * raw.size();
                let z0 = self.next_z;
                let (filled, read) = fill(&mut **reader, buf, bytes);
                let read = read.and_then(|()| {
                    if filled < bytes {
                        Err(std::io::Error::from(ErrorKind::UnexpectedEof))
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = read {
                    let what = format!(
                        "{nx}x{ny}x{nz} {} voxels; reading slices {z0}..{}",
                        raw.name(),
                        z0 + slices
                    );
                    return Err(match e.kind() {
                        ErrorKind::UnexpectedEof => IoError::truncated(
                            what,
                            (per_slice as u64)
                                .saturating_mul(nz as u64)
                                .saturating_mul(raw.size() as u64),
                            ((z0 * per_slice * raw.size()) as u64).saturating_add(filled as u64),
                        ),
                        _ if *gzip => IoError::malformed(format!(
                            "corrupt gzip data ({e}) at {what}; the file is damaged, copy or export it again"
                        )),
                        _ => IoError::io(&self.path, e),
                    }
                    .in_file(&self.path));
                }
                self.next_z += slices;
                if self.next_z == nz && *gzip {
                    // Read on to the end of the stream so that its CRC is checked, as a
                    // whole-file read does.
                    let mut rest = [0u8; 1];
                    if let Err(e) = reader.read(&mut rest) {
                        return Err(IoError::malformed(format!(
                            "corrupt gzip data ({e}) after the last voxel; the file is damaged, copy or export it again"
                        ))
                        .in_file(&self.path));
                    }
                }
                let geometry = slab_geometry(&self.geometry, z0, slices)?;
                raw::build_image(geometry, *raw, &buf[..bytes], *big_endian, *scale)
                    .map(Some)
                    .map_err(|e| e.in_file(&self.path))
            }
        }
    }
}

/// Reads up to `bytes` bytes into `buf[..bytes]`: how many were read (fewer at the end of the
/// data or on an error) and the error, if any. The buffer keeps its length between slabs, so
/// it is zeroed once as it grows rather than on every slab (`read_to_end` zeroes its spare
/// capacity on each call); it grows with the data actually read, so that a header announcing
/// a huge slice over a short file fails instead of allocating the slice.
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, bytes: usize) -> (usize, std::io::Result<()>) {
    let mut filled = 0;
    while filled < bytes {
        if filled == buf.len() {
            let grow = (bytes - filled).min(buf.len().max(1 << 16));
            buf.resize(filled + grow, 0);
        }
        let end = buf.len().min(bytes);
        match reader.read(&mut buf[filled..end]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return (filled, Err(e)),
        }
    }
    (filled, Ok(()))
}

/// The geometry of slices `z0..z0 + n` of `g`.
fn slab_geometry(g: &Geometry, z0: usize, n: usize) -> Result<Geometry, IoError> {
    let [nx, ny, _] = g.size();
    let origin = g.index_to_physical([0.0, 0.0, z0 as f64]);
    Geometry::new([nx, ny, n], g.spacing(), origin, g.direction()).map_err(IoError::geometry)
}

fn skip_bytes(reader: &mut impl Read, n: u64) -> Result<(), IoError> {
    let skipped = std::io::copy(&mut reader.take(n), &mut std::io::sink()).map_err(|e| {
        IoError::malformed(format!(
            "corrupt gzip data ({e}) before the first voxel; the file is damaged, copy or export it again"
        ))
    })?;
    if skipped < n {
        return Err(IoError::truncated(
            "the bytes before the first voxel",
            n,
            skipped,
        ));
    }
    Ok(())
}
