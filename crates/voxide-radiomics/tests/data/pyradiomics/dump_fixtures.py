# Dumps PyRadiomics' discretised, cropped ROI arrays for every baseline column (texture classes)
# as gzip NRRD (uint8/uint16) + a manifest, and PyRadiomics 3.1.4 outputs of the 5 texture classes.
import ast, csv, gzip, hashlib, json, os, sys
import numpy as np, SimpleITK as sitk
import radiomics
from radiomics import featureextractor, imageoperations, getFeatureClasses
radiomics.setVerbosity(40)
D = '/work/shared/data/radiomics/pyradiomics'
OUT = sys.argv[1]
cases = sys.argv[2].split(',')
os.makedirs(OUT, exist_ok=True)
fc = getFeatureClasses()
rows = list(csv.reader(open(D + '/baseline/baseline_glcm.csv')))
tests = rows[0][1:]
manifest = []
outputs = {}
seen = {}
for ci, test in enumerate(tests, 1):
    if not any(test == c or test.startswith(c + '_') for c in cases):
        continue
    diag = {r[0]: r[ci] for r in rows[1:] if 'diagnostics' in r[0]}
    settings = ast.literal_eval(diag['diagnostics_Configuration_Settings'])
    tc = diag['diagnostics_Configuration_TestCase']
    im = sitk.ReadImage(f'{D}/{tc}_image.nrrd'); ma = sitk.ReadImage(f'{D}/{tc}_label.nrrd', sitk.sitkUInt32)
    ext = featureextractor.RadiomicsFeatureExtractor({'imageType': {'Original': {}}, 'setting': settings})
    im, ma = ext.loadImage(im, ma, **settings)
    bb, cm = imageoperations.checkMask(im, ma, **settings)
    if cm is not None: ma = cm
    if settings.get('resegmentRange') is not None:
        rm = imageoperations.resegmentMask(im, ma, **settings)
        bb, cm = imageoperations.checkMask(im, rm, **settings)
        if cm is not None: rm = cm
        ma = rm
    cim, cma = imageoperations.cropToTumorMask(im, ma, bb)
    obj = fc['glcm'](cim, cma, **settings)
    levels = (obj.imageArray * obj.maskArray).astype(np.int64)
    assert levels.min() >= 0
    dt = np.uint8 if levels.max() < 256 else np.uint16
    arr = levels.astype(dt)
    sp = cim.GetSpacing()
    key = hashlib.sha1(arr.tobytes() + str(arr.shape).encode() + repr(sp).encode()).hexdigest()
    if key not in seen:
        name = f'{test}.nrrd'
        seen[key] = name
        nz, ny, nx = arr.shape
        hdr = ('NRRD0004\n# PyRadiomics 3.1.4 discretised ROI (0 outside), cropped to the ROI bounding box: %s\n'
               'type: %s\ndimension: 3\nspace: left-posterior-superior\nsizes: %d %d %d\n'
               'space directions: (%r,0,0) (0,%r,0) (0,0,%r)\nspace origin: (0,0,0)\nendian: little\nencoding: gzip\n\n') % (
                   test, 'uchar' if dt == np.uint8 else 'ushort', nx, ny, nz, sp[0], sp[1], sp[2])
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(hdr.encode()); f.write(gzip.compress(arr.astype('<' + arr.dtype.str[1:]).tobytes(), 9, mtime=0))
    np.save(f'/tmp/pytex/arr_{test}.npy', levels)
    manifest.append([test, seen[key], json.dumps(settings.get('distances', [1])).replace(' ', ''),
                     str(settings.get('force2D', False)).lower(), str(settings.get('force2Ddimension', 0)),
                     str(settings.get('weightingNorm', None)), str(settings.get('gldm_a', 0)),
                     str(settings.get('symmetricalGLCM', True)).lower()])
    res = {}
    for cls in ['glcm', 'glrlm', 'glszm', 'gldm', 'ngtdm']:
        o = fc[cls](cim, cma, **settings)
        v = o.execute()
        res[cls] = {k: float(x) for k, x in v.items()}
    outputs[test] = res
    print(test, arr.shape, arr.dtype, int(levels.max()), seen[key], flush=True)
with open(os.path.join(OUT, 'manifest.tsv'), 'w') as f:
    f.write('# column\tfixture\tdistances\tforce2D\tforce2Ddimension\tweightingNorm\tgldm_a\tsymmetricalGLCM\n')
    for m in manifest: f.write('\t'.join(m) + '\n')
json.dump(outputs, open('/tmp/pytex/outputs_%s.json' % '_'.join(cases), 'w'), indent=1)
