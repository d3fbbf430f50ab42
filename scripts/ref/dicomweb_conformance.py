"""DICOMweb conformance checks against a running voxide, with the `dicomweb-client` package and
plain HTTP (requests), for voxide's tests. Prints one JSON line of results; exits non-zero with a
message on the first failed check.

  dicomweb_conformance.py stow-all URL FOLDER
      STOW-RS every DICOM file under FOLDER, as sent (raw bytes, one request per series), then
      WADO-RS each instance with transfer-syntax=* and compare bytes with the file.
  dicomweb_conformance.py client URL FOLDER
      Drive the server with dicomweb-client: store one series from pydicom datasets, search
      (studies, series, instances, wildcards, dates, UID lists, includefield, limit/offset),
      retrieve (instance, series metadata, frames, rendered), and check the answers against the
      files read with pydicom.
  dicomweb_conformance.py retrieve-identical URL FOLDER [--dataset-only]
      WADO-RS every instance of FOLDER (stored by another path) with transfer-syntax=* and
      compare bytes with the file; with --dataset-only, the bytes after the file meta group
      (C-STORE carries no meta group: the receiver writes its own).
  dicomweb_conformance.py compare-datasets URL FOLDER
      WADO-RS every instance of FOLDER (stored by another path, e.g. C-STORE) with
      transfer-syntax=* and compare every data element with the file's (values, and Pixel Data
      byte for byte). Not the encoding: dcmtk's storescu re-encodes data sets as it sends them
      (undefined-length sequences become explicit-length), so bytes can only match value-wise.
  dicomweb_conformance.py generate TEMPLATE_FOLDER OUT COUNT
      Write COUNT instances derived from the files of TEMPLATE_FOLDER with new Study/Series/SOP
      Instance UIDs (10 series of COUNT/10), for ingest tests and benchmarks.
"""
import io
import json
import os
import sys
import uuid

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient

# voxide requires credentials: every request (requests' and dicomweb-client's, which share
# requests.Session) carries the bearer token given in VOXIDE_TOKEN.
_TOKEN = os.environ.get("VOXIDE_TOKEN")
if _TOKEN:
    _send = requests.Session.request

    def _with_token(self, method, url, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Authorization", f"Bearer {_TOKEN}")
        return _send(self, method, url, headers=headers, **kwargs)

    requests.Session.request = _with_token


def fail(msg):
    print(f"FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def dicom_files(folder):
    out = []
    for root, _, names in os.walk(folder):
        for n in sorted(names):
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                head = f.read(132)
            if len(head) == 132 and head[128:132] == b"DICM":
                out.append(p)
    return sorted(out)


def split_multipart(body, content_type):
    """Independent multipart/related reader (not voxide's)."""
    params = {}
    for p in content_type.split(";")[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    boundary = params["boundary"].encode()
    check(body.startswith(b"--" + boundary + b"\r\n"), "multipart body must start with --boundary CRLF")
    parts = []
    chunks = body.split(b"\r\n--" + boundary)
    first = chunks[0][len(b"--" + boundary) + 2:]
    for i, chunk in enumerate([first] + chunks[1:]):
        if i > 0:
            if chunk.startswith(b"--"):
                break
            check(chunk.startswith(b"\r\n"), "delimiter must end with CRLF")
            chunk = chunk[2:]
        head, _, payload = chunk.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        parts.append((headers, payload))
    return parts


def uid_triplet(path):
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


def dataset_bytes(part10):
    """Bytes after the file meta group (walked element by element, explicit VR LE)."""
    pos = 132
    while True:
        group = int.from_bytes(part10[pos:pos + 2], "little")
        if group != 2:
            return part10[pos:]
        vr = part10[pos + 4:pos + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV"):
            pos += 12 + int.from_bytes(part10[pos + 8:pos + 12], "little")
        else:
            pos += 8 + int.from_bytes(part10[pos + 6:pos + 8], "little")


def retrieve_as_stored(url, study, series, sop):
    r = requests.get(
        f"{url}/studies/{study}/series/{series}/instances/{sop}",
        headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
    )
    check(r.status_code == 200, f"WADO-RS instance {sop}: HTTP {r.status_code} {r.text[:200]}")
    parts = split_multipart(r.content, r.headers["Content-Type"])
    check(len(parts) == 1, f"instance retrieval must hold one part, got {len(parts)}")
    return parts[0][1]


def stow_all(url, folder):
    files = dicom_files(folder)
    by_series = {}
    for p in files:
        st, se, sop = uid_triplet(p)
        by_series.setdefault((st, se), []).append((p, sop))
    stored = 0
    for (st, se), items in by_series.items():
        boundary = uuid.uuid4().hex
        body = b""
        for p, _ in items:
            with open(p, "rb") as f:
                body += b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + f.read() + b"\r\n"
        body += b"--" + boundary.encode() + b"--\r\n"
        r = requests.post(
            f"{url}/studies",
            data=body,
            headers={"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                     "Accept": "application/dicom+json"},
        )
        check(r.status_code == 200, f"STOW-RS of series {se}: HTTP {r.status_code} {r.text[:300]}")
        answer = r.json()
        refs = answer.get("00081199", {}).get("Value", [])
        check(len(refs) == len(items), f"STOW-RS answer lists {len(refs)} stored of {len(items)}")
        check("00081198" not in answer, f"STOW-RS reports failures: {answer.get('00081198')}")
        stored += len(items)
    identical = retrieve_identical(url, files)
    print(json.dumps({"files": len(files), "stored": stored, "identical": identical}))


def retrieve_identical(url, files, dataset_only=False):
    identical = 0
    for p in files:
        st, se, sop = uid_triplet(p)
        with open(p, "rb") as f:
            original = f.read()
        got = retrieve_as_stored(url, st, se, sop)
        if dataset_only:
            check(got[128:132] == b"DICM", f"{sop}: retrieved object is not a Part 10 file")
            got, original = dataset_bytes(got), dataset_bytes(original)
        check(got == original, f"{p}: retrieved {len(got)} bytes differ from the {len(original)} sent")
        identical += 1
    return identical


def compare_datasets(url, folder):
    files = dicom_files(folder)
    identical = 0
    for p in files:
        st, se, sop = uid_triplet(p)
        with open(p, "rb") as f:
            original = f.read()
        got = retrieve_as_stored(url, st, se, sop)
        check(got[128:132] == b"DICM", f"{sop}: retrieved object is not a Part 10 file")
        a = pydicom.dcmread(io.BytesIO(original))
        b = pydicom.dcmread(io.BytesIO(got))
        for e in a:
            if e.tag.group == 0 or e.tag.element == 0:
                continue  # group lengths are encoding, not content
            check(e.tag in b, f"{p}: {e.tag} is missing from the retrieved object")
            check(b[e.tag].value == e.value, f"{p}: {e.tag} differs: {repr(e.value)[:60]} vs {repr(b[e.tag].value)[:60]}")
        extra = [e.tag for e in b if e.tag not in a and e.tag.element != 0]
        check(not extra, f"{p}: the retrieved object has extra elements {extra}")
        identical += 1
    print(json.dumps({"files": len(files), "identical_datasets": identical}))


def client_checks(url, folder):
    client = DICOMwebClient(url=url)
    files = dicom_files(folder)
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
    # Store one whole series from pydicom datasets (dicomweb-client encodes them itself).
    ct = [p for p, h in zip(files, headers) if h.Modality == "CT"]
    check(ct, "the folder must hold a CT series")
    datasets = [pydicom.dcmread(p) for p in ct]
    answer = client.store_instances(datasets=datasets)
    check(len(answer.ReferencedSOPSequence) == len(ct), "store_instances: not every instance stored")
    ds0 = datasets[len(datasets) // 2]
    study, series = str(ds0.StudyInstanceUID), str(ds0.SeriesInstanceUID)

    # Searches.
    studies = client.search_for_studies()
    check(any(s["0020000D"]["Value"][0] == study for s in studies), "search_for_studies misses the study")
    mine = [s for s in studies if s["0020000D"]["Value"][0] == study][0]
    check(mine["00201208"]["Value"][0] >= len(ct), "NumberOfStudyRelatedInstances too small")
    check("CT" in mine["00080061"]["Value"], "ModalitiesInStudy lacks CT")
    pid = str(ds0.PatientID)
    check(len(client.search_for_studies(search_filters={"PatientID": pid})) >= 1, "PatientID match")
    name = str(ds0.PatientName)
    wild = name[: max(1, len(name) - 2)] + "*"
    check(len(client.search_for_studies(search_filters={"PatientName": wild})) >= 1, f"wildcard {wild}")
    check(len(client.search_for_studies(search_filters={"PatientName": name[:1] + "?" + name[2:]})) >= 1,
          "single-character wildcard")
    check(client.search_for_studies(search_filters={"PatientID": "no-such-patient"}) == [],
          "a non-matching search must be empty")
    date = str(getattr(ds0, "StudyDate", ""))
    if date:
        check(len(client.search_for_studies(search_filters={"StudyDate": f"{date}-"})) >= 1, "open date range")
        check(len(client.search_for_studies(search_filters={"StudyDate": f"-{date}"})) >= 1, "open date range")
        check(len(client.search_for_studies(search_filters={"StudyDate": f"{date}-{date}"})) >= 1, "range")
        check(client.search_for_studies(search_filters={"StudyDate": "19000101-19000102"}) == [], "range miss")
    uids = [s["0020000D"]["Value"][0] for s in studies]
    two = client.search_for_studies(search_filters={"StudyInstanceUID": "\\".join(uids[:2])})
    check(len(two) == min(2, len(uids)), "UID list matching")
    page = client.search_for_studies(limit=1, offset=1)
    check(len(page) == min(1, max(0, len(uids) - 1)), "limit/offset")
    series_list = client.search_for_series(study_instance_uid=study, search_filters={"Modality": "CT"})
    check(any(s["0020000E"]["Value"][0] == series for s in series_list), "search_for_series")
    inst = client.search_for_instances(study_instance_uid=study, series_instance_uid=series)
    check(len(inst) == len(ct), f"search_for_instances: {len(inst)} of {len(ct)}")
    inc = client.search_for_studies(search_filters={"StudyInstanceUID": study},
                                    fields=["StudyDescription", "00080090", "NoSuchKeyword", "all"])
    check(len(inc) == 1, "includefield with an unknown keyword must not fail")
    r = requests.get(f"{url}/studies?00100020={pid}&includefield=00081030")
    check(r.status_code == 200 and r.json(), "hex tag keys")
    r = requests.get(f"{url}/studies?StudyDate=2020")
    check(r.status_code == 400, f"a malformed date must be a 400, got {r.status_code}")

    # Retrieval.
    got = client.retrieve_instance(study, series, str(ds0.SOPInstanceUID), media_types=(("application/dicom", "*"),))
    check(got.SOPInstanceUID == ds0.SOPInstanceUID, "retrieve_instance")
    check(got.pixel_array.tolist() == ds0.pixel_array.tolist(), "retrieved pixels differ")
    meta = client.retrieve_series_metadata(study, series)
    check(len(meta) == len(ct), "retrieve_series_metadata count")
    one = [m for m in meta if m["00080018"]["Value"][0] == str(ds0.SOPInstanceUID)][0]
    check("BulkDataURI" in one["7FE00010"], "PixelData must be a BulkDataURI")
    check(one["00100020"]["Value"][0] == pid, "series metadata carries patient attributes")
    frames = client.retrieve_instance_frames(study, series, str(ds0.SOPInstanceUID), frame_numbers=[1],
                                             media_types=(("application/octet-stream", "*"),))
    expected = ds0.pixel_array.astype(ds0.pixel_array.dtype.newbyteorder("<")).tobytes()
    check(frames[0] == expected, f"frame bytes differ ({len(frames[0])} vs {len(expected)})")
    # OHIF's request: each part's Content-Type carries its transfer syntax.
    r = requests.get(f"{url}/studies/{study}/series/{series}/instances/{ds0.SOPInstanceUID}/frames/1",
                     headers={"Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"})
    parts = split_multipart(r.content, r.headers["Content-Type"])
    check("transfer-syntax=" in parts[0][0]["content-type"], "frame part without transfer-syntax")
    bulk = requests.get(one["7FE00010"]["BulkDataURI"], headers={"Accept": "multipart/related; type=application/octet-stream"})
    check(bulk.status_code == 200, f"BulkDataURI: HTTP {bulk.status_code}")
    png = client.retrieve_instance_rendered(study, series, str(ds0.SOPInstanceUID), media_types=("image/png",))
    check(png[:8] == b"\x89PNG\r\n\x1a\n", "rendered PNG")
    jpg = requests.get(f"{url}/studies/{study}/series/{series}/thumbnail", headers={"Accept": "image/jpeg"})
    check(jpg.status_code == 200 and jpg.content[:2] == b"\xff\xd8", "series thumbnail JPEG")
    wado = requests.get(url.rsplit("/dicom-web", 1)[0] + "/wado", params={
        "requestType": "WADO", "studyUID": study, "seriesUID": series, "objectUID": str(ds0.SOPInstanceUID),
        "contentType": "application/dicom"})
    check(wado.status_code == 200 and wado.content[128:132] == b"DICM", "WADO-URI application/dicom")
    r = requests.get(f"{url}/studies/{study}", headers={"Accept": "image/gif"})
    check(r.status_code == 406, f"an unacceptable Accept must be a 406, got {r.status_code}")
    print(json.dumps({"series_instances": len(ct), "studies": len(studies)}))


def generate(template, out, count):
    templates = [p for p in dicom_files(template)]
    templates = [p for p in templates if pydicom.dcmread(p, stop_before_pixels=True).Modality == "CT"] or templates
    check(templates, f"no DICOM files in {template}")
    os.makedirs(out, exist_ok=True)
    per_series = max(1, count // 10)
    study = pydicom.uid.generate_uid()
    series = None
    for i in range(count):
        if i % per_series == 0:
            series = pydicom.uid.generate_uid()
            if (i // per_series) % 5 == 0:
                study = pydicom.uid.generate_uid()
        ds = pydicom.dcmread(templates[i % len(templates)])
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID = f"GEN{(i // (per_series * 5)):05d}"
        ds.InstanceNumber = i % per_series + 1
        ds.save_as(os.path.join(out, f"{i:06d}.dcm"), enforce_file_format=True)
    print(json.dumps({"generated": count}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "stow-all":
        stow_all(sys.argv[2], sys.argv[3])
    elif cmd == "client":
        client_checks(sys.argv[2], sys.argv[3])
    elif cmd == "retrieve-identical":
        files = dicom_files(sys.argv[3])
        only = "--dataset-only" in sys.argv[4:]
        print(json.dumps({"files": len(files), "identical": retrieve_identical(sys.argv[2], files, only)}))
    elif cmd == "compare-datasets":
        compare_datasets(sys.argv[2], sys.argv[3])
    elif cmd == "generate":
        generate(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        fail(f"unknown command {cmd}")
