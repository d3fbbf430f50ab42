# Times pyradiomics-bhklab 3.1.4's five texture classes (default settings) on the two ROIs of
# tests/pyradiomics_texture_perf.rs (same integer formulas); the time is the classes'
# construction + execute(), best of 10. Two variants:
#   texture only: re-binning replaced by the identity, so PyRadiomics starts from the same
#     discretised levels as voxide's `compute` (the fair comparison for the texture code);
#   as used: an image of intensities 25 * level with the default binWidth 25 (the same levels
#     after binning), i.e. what a PyRadiomics user pays per class, binning included.
# Usage: python time_pyradiomics.py
import time
import numpy as np, SimpleITK as sitk, radiomics
from radiomics import getFeatureClasses, imageoperations

radiomics.setVerbosity(50)
original_bin_image = imageoperations.binImage
identity = lambda m, mask=None, **kw: ((m * mask).astype(int), None)
fc = getFeatureClasses()
M = (1 << 64) - 1


def lcg(state):
    return (state * 6364136223846793005 + 1442695040888963407) & M


def random_box():
    out = np.zeros(40 * 50 * 50, dtype=np.int64)
    s = 12345
    for n in range(out.size):
        s = lcg(s)
        out[n] = ((s >> 33) % 64) + 1
    return out.reshape(40, 50, 50)


def ellipsoid():
    nk, nj, ni = 48, 64, 64
    out = np.zeros((nk, nj, ni), dtype=np.int64)
    s = 777
    r = nk * nj * ni
    for k in range(nk):
        for j in range(nj):
            for i in range(ni):
                s = lcg(s)
                dz = (2 * k + 1 - nk) * nj * ni
                dy = (2 * j + 1 - nj) * nk * ni
                dx = (2 * i + 1 - ni) * nk * nj
                if dz * dz + dy * dy + dx * dx <= r * r:
                    out[k, j, i] = ((k * k + 3 * j + 5 * i) // 37 + ((s >> 33) % 4)) % 32 + 1
    return out


for (variant, binning), (name, arr) in [(v, c) for v in [('texture only', identity), ('as used', original_bin_image)]
                                         for c in [('random box', random_box()), ('ellipsoid', ellipsoid())]]:
    imageoperations.binImage = binning
    scale = 1 if variant == 'texture only' else 25
    im = sitk.GetImageFromArray((arr * scale).astype(np.int32))
    ma = sitk.GetImageFromArray((arr > 0).astype(np.uint8))
    best, per = float('inf'), None
    for _ in range(10):
        times = []
        t0 = time.perf_counter()
        for cls in ['glcm', 'gldm', 'glrlm', 'glszm', 'ngtdm']:
            t = time.perf_counter()
            fc[cls](im, ma).execute()
            times.append((cls, (time.perf_counter() - t) * 1e3))
        total = (time.perf_counter() - t0) * 1e3
        if total < best:
            best, per = total, times
    print('%s, %s (%d voxels): all five classes %.1f ms (%s)' % (
        variant, name, int((arr > 0).sum()), best, ', '.join('%s %.1f' % c for c in per)))
