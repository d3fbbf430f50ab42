//! Sliding-window inference with Gaussian-weighted blending (as nnU-Net does it).
//!
//! The volume is covered by patches whose starts are spread evenly so that neighbours overlap
//! by at least the requested fraction and the last patch ends at the volume's edge (nnU-Net's
//! `compute_steps_for_sliding_window`). Each patch's output is weighted by a Gaussian centred on
//! the patch (σ = `gaussian_sigma` × patch size, cut at 4σ as SciPy's `gaussian_filter` does,
//! zero weights raised to the smallest positive one) and the weighted outputs are summed with
//! their weights; the result is the sum divided by the weights. Test-time mirroring runs every
//! combination of flips of the listed axes and averages the flipped-back outputs. A volume
//! smaller than the patch is padded with zeros (the value of the normalised background) on
//! both sides and cropped back.
//!
//! Memory: the output accumulator (channels × volume) and one weight volume; patches are cut
//! out and run one batch at a time.

use std::ops::ControlFlow;

use ndarray::{Array3, Array4, Array5, ArrayView3, ArrayView4, Axis, Slice, Zip};

use crate::backend::Backend;
use crate::InferError;

/// Patch starts along one axis of length `size` for patches of `patch` voxels overlapping by
/// `overlap` (`size >= patch`).
pub fn patch_starts(size: usize, patch: usize, overlap: f64) -> Vec<usize> {
    if size <= patch {
        return vec![0];
    }
    let target_step = patch as f64 * (1.0 - overlap);
    let steps = ((size - patch) as f64 / target_step).ceil() as usize + 1;
    let max_start = (size - patch) as f64;
    let actual = max_start / (steps - 1) as f64;
    (0..steps)
        .map(|i| (actual * i as f64).round() as usize)
        .collect()
}

/// The Gaussian importance map of a patch, maximum 1.
pub fn gaussian_weights(patch: [usize; 3], sigma_scale: f64) -> Array3<f32> {
    let axis = |n: usize| -> Vec<f64> {
        let sigma = n as f64 * sigma_scale;
        let centre = (n / 2) as f64;
        // SciPy truncates its kernel at int(4σ + 0.5) voxels.
        let radius = (4.0 * sigma + 0.5).floor();
        (0..n)
            .map(|i| {
                let d = i as f64 - centre;
                if d.abs() > radius {
                    0.0
                } else {
                    (-d * d / (2.0 * sigma * sigma)).exp()
                }
            })
            .collect()
    };
    let (gd, gh, gw) = (axis(patch[0]), axis(patch[1]), axis(patch[2]));
    let mut w = Array3::from_shape_fn((patch[0], patch[1], patch[2]), |(d, h, x)| {
        (gd[d] * gh[h] * gw[x]) as f32
    });
    let min_positive = w
        .iter()
        .copied()
        .filter(|&v| v > 0.0)
        .fold(f32::INFINITY, f32::min);
    w.mapv_inplace(|v| if v > 0.0 { v } else { min_positive });
    w
}

/// Sliding-window settings, in the model's tensor axes (D, H, W).
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    pub patch: [usize; 3],
    pub overlap: f64,
    pub gaussian_sigma: f64,
    pub mirror_axes: Vec<usize>,
}

/// Runs `backend` over `input` (channels × D × H × W, already normalised) patch by patch and
/// returns the blended outputs (output channels × D × H × W). `progress(done, total)` is called
/// before the first batch and after every batch; when it returns `Break` the run stops there
/// with [`InferError::Canceled`] (batches already running on other workers finish first).
pub fn predict(
    input: ArrayView4<'_, f32>,
    backend: &dyn Backend,
    window: &SlidingWindow,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<Array4<f32>, InferError> {
    let shape = backend.input_shape();
    let &[batch, channels, pd, ph, pw] = shape else {
        return Err(InferError::Run(format!(
            "sliding-window inference needs a network input [N, C, D, H, W], it has {shape:?}"
        )));
    };
    if [pd, ph, pw] != window.patch {
        return Err(InferError::Run(format!(
            "the network is prepared for patches {:?}, the window asks for {:?}",
            [pd, ph, pw],
            window.patch
        )));
    }
    if input.len_of(Axis(0)) != channels {
        return Err(InferError::Run(format!(
            "the network takes {channels} input channel(s), the volume has {}",
            input.len_of(Axis(0))
        )));
    }
    let (_, d0, h0, w0) = input.dim();
    let size0 = [d0, h0, w0];
    // Pad to at least one patch, centred.
    let padded = [0, 1, 2].map(|a| size0[a].max(window.patch[a]));
    let before = [0, 1, 2].map(|a| (padded[a] - size0[a]) / 2);
    let mut volume = Array4::<f32>::zeros((channels, padded[0], padded[1], padded[2]));
    // `s!` expands to unsafe code, which the workspace forbids: slice axis by axis.
    let inner = |ax: ndarray::AxisDescription| match ax.axis.index() {
        0 => Slice::from(..),
        a => Slice::from(before[a - 1]..before[a - 1] + size0[a - 1]),
    };
    volume.slice_each_axis_mut(inner).assign(&input);

    let starts: Vec<[usize; 3]> = {
        let sd = patch_starts(padded[0], pd, window.overlap);
        let sh = patch_starts(padded[1], ph, window.overlap);
        let sw = patch_starts(padded[2], pw, window.overlap);
        let mut v = Vec::with_capacity(sd.len() * sh.len() * sw.len());
        for &a in &sd {
            for &b in &sh {
                for &c in &sw {
                    v.push([a, b, c]);
                }
            }
        }
        v
    };
    let weights = gaussian_weights(window.patch, window.gaussian_sigma);
    let mut acc: Option<Array4<f32>> = None;
    let mut weight_sum = Array3::<f32>::zeros((padded[0], padded[1], padded[2]));
    let flips = flip_sets(&window.mirror_axes);
    let batches = starts.len().div_ceil(batch);
    // One batch: cut its patches out, run the network (and its mirrored copies), average.
    let run_batch = |group: &[[usize; 3]]| -> Result<Array5<f32>, InferError> {
        let mut x = Array5::<f32>::zeros((batch, channels, pd, ph, pw));
        for (n, st) in group.iter().enumerate() {
            let cut = |ax: ndarray::AxisDescription| match ax.axis.index() {
                0 => Slice::from(..),
                a => Slice::from(st[a - 1]..st[a - 1] + window.patch[a - 1]),
            };
            x.index_axis_mut(Axis(0), n)
                .assign(&volume.slice_each_axis(cut));
        }
        let mut out: Option<Array5<f32>> = None;
        for axes in &flips {
            let xin = flipped(x.view(), axes);
            let y = backend.run(xin.view().into_dyn())?;
            let y = y.into_dimensionality::<ndarray::Ix5>().map_err(|_| {
                InferError::Run(
                    "a segmentation network must output [N, classes, D, H, W]".to_string(),
                )
            })?;
            if y.shape()[2..] != [pd, ph, pw] || y.shape()[0] != batch {
                return Err(InferError::Run(format!(
                    "the network's output {:?} does not cover its input patch {:?} (a segmentation network must output [N, classes, D, H, W] at the input's size)",
                    y.shape(),
                    [batch, channels, pd, ph, pw]
                )));
            }
            let y = flipped(y.view(), axes);
            match &mut out {
                None => out = Some(y),
                Some(o) => *o += &y,
            }
        }
        let Some(mut out) = out else {
            return Err(InferError::Run("no network run".into()));
        };
        if flips.len() > 1 {
            out.mapv_inplace(|v| v / flips.len() as f32);
        }
        Ok(out)
    };
    // Batches run concurrently on worker threads, one batch each: the engine's own threading
    // covers only its matrix products (im2col and the rest of a 3D network are serial), so
    // patch-level parallelism is what scales. The workers are plain threads, not rayon's: the
    // engine spreads its matrix products over rayon's pool and keeps per-thread scratch
    // buffers, and a rayon worker waiting inside it could steal another patch's run and
    // re-enter them. Outputs are added in patch order whatever order they finish in, so a run
    // gives the same bits every time. Each worker keeps the engine on its own thread, so the
    // cores are shared out by patch. Memory: one batch's activations per worker.
    let groups: Vec<&[[usize; 3]]> = starts.chunks(batch).collect();
    if progress(0, batches).is_break() {
        return Err(InferError::Canceled);
    }
    let workers = rayon::current_num_threads().clamp(1, groups.len().max(1));
    let mut add = |group: &[[usize; 3]], out: Array5<f32>| {
        let classes = out.shape()[1];
        let acc = acc.get_or_insert_with(|| {
            Array4::<f32>::zeros((classes, padded[0], padded[1], padded[2]))
        });
        for (n, st) in group.iter().enumerate() {
            let region = |ax: ndarray::AxisDescription| {
                Slice::from(
                    st[ax.axis.index()]..st[ax.axis.index()] + window.patch[ax.axis.index()],
                )
            };
            for c in 0..classes {
                Zip::from(acc.index_axis_mut(Axis(0), c).slice_each_axis_mut(region))
                    .and(out.index_axis(Axis(0), n).index_axis(Axis(0), c))
                    .and(&weights)
                    .for_each(|a, &y, &w| *a += y * w);
            }
            Zip::from(weight_sum.slice_each_axis_mut(region))
                .and(&weights)
                .for_each(|s, &w| *s += w);
        }
    };
    if workers <= 1 {
        for (b, group) in groups.iter().enumerate() {
            let out = run_batch(group)?;
            add(group, out);
            if progress(b + 1, batches).is_break() {
                return Err(InferError::Canceled);
            }
        }
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<(usize, Result<Array5<f32>, InferError>)>(workers);
        std::thread::scope(|scope| -> Result<(), InferError> {
            for _ in 0..workers {
                let tx = tx.clone();
                let (next, groups, run_batch) = (&next, &groups, &run_batch);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= groups.len() {
                        break;
                    }
                    // A failed send means the receiver gave up on an error: stop.
                    let result = crate::backend::serial(|| run_batch(groups[i]));
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            let mut pending = std::collections::BTreeMap::new();
            let mut done = 0;
            for (i, result) in rx {
                pending.insert(i, result?);
                while let Some(out) = pending.remove(&done) {
                    add(groups[done], out);
                    done += 1;
                    // Returning drops the receiver: each worker stops after its batch.
                    if progress(done, batches).is_break() {
                        return Err(InferError::Canceled);
                    }
                }
            }
            Ok(())
        })?;
    }
    let Some(mut acc) = acc else {
        return Err(InferError::Run("the volume gave no patch".into()));
    };
    for mut channel in acc.outer_iter_mut() {
        Zip::from(&mut channel)
            .and(&weight_sum)
            .for_each(|a, &w| *a /= w);
    }
    Ok(acc.slice_each_axis(inner).to_owned())
}

/// Every subset of `axes` (spatial axes 0..3), the empty one first.
fn flip_sets(axes: &[usize]) -> Vec<Vec<usize>> {
    let mut axes = axes.to_vec();
    axes.sort_unstable();
    axes.dedup();
    (0..1usize << axes.len())
        .map(|m| {
            axes.iter()
                .enumerate()
                .filter(|(b, _)| m >> b & 1 == 1)
                .map(|(_, &a)| a)
                .collect()
        })
        .collect()
}

/// `x` (N, C, D, H, W) reversed along the spatial `axes`.
fn flipped(x: ndarray::ArrayView5<'_, f32>, axes: &[usize]) -> Array5<f32> {
    let mut v = x;
    for &a in axes {
        v.invert_axis(Axis(a + 2));
    }
    v.as_standard_layout().into_owned()
}

/// A 3D view as a one-channel 4D view.
pub fn one_channel(volume: ArrayView3<'_, f32>) -> ArrayView4<'_, f32> {
    volume.insert_axis(Axis(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_match_nnunet() {
        // nnU-Net's compute_steps_for_sliding_window((256, 128), (96, 96), 0.5):
        // [[0, 40, 80, 120, 160], [0, 32]].
        assert_eq!(patch_starts(256, 96, 0.5), vec![0, 40, 80, 120, 160]);
        assert_eq!(patch_starts(128, 96, 0.5), vec![0, 32]);
        assert_eq!(patch_starts(96, 96, 0.5), vec![0]);
        assert_eq!(patch_starts(50, 96, 0.5), vec![0]);
        assert_eq!(
            patch_starts(100, 10, 0.0),
            (0..10).map(|i| i * 10).collect::<Vec<_>>()
        );
        // Every voxel is covered and the last patch ends at the edge.
        for (size, patch, overlap) in [(97, 32, 0.5), (500, 64, 0.25), (33, 32, 0.9)] {
            let s = patch_starts(size, patch, overlap);
            assert_eq!(s[0], 0);
            assert_eq!(*s.last().unwrap() + patch, size);
            for w in s.windows(2) {
                assert!(w[1] > w[0] && w[1] - w[0] <= patch);
            }
        }
    }

    #[test]
    fn gaussian_peaks_at_the_centre_and_has_no_zero() {
        let w = gaussian_weights([8, 9, 40], 0.125);
        assert_eq!(w[[4, 4, 20]], 1.0);
        assert!(w.iter().all(|&v| v > 0.0 && v <= 1.0));
        // Cut at int(4σ + 0.5) = 20 voxels along W (σ = 5): the corner gets the minimum.
        let min = w.iter().copied().fold(f32::INFINITY, f32::min);
        assert_eq!(w[[0, 0, 0]], min);
        assert_eq!(flip_sets(&[2, 0]).len(), 4);
        assert_eq!(flip_sets(&[]), vec![Vec::<usize>::new()]);
    }
}
