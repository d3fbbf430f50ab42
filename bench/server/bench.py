#!/usr/bin/env python3
"""Side-by-side benchmark of `voxide serve` against Orthanc (+ its DICOMweb plugin).

Both servers run on this machine in the same run, on fresh storage and their own ports, and are
measured one request/batch at a time in alternation where that is possible, so that background
load (a compiler on the same 2 cores) hits both alike:

  a. C-STORE ingest with dcmtk storescu (TCP_NODELAY=1): 4 associations over 4 disjoint subsets,
     and 1 association over another set of the same size.
  b. STOW-RS ingest: 4 threads, 10 instances (raw Part 10 bytes) per multipart/related request.
  c. QIDO-RS study search latency at two index sizes (total instances indexed, CT sets included).
  d. WADO-RS frame retrieval: /frames/1 of the instances of (a), 4 threads.
  e. Peak RSS (VmHWM) of each server process.

Usage (normally through bench/server/run.sh):
  bench.py --repo ROOT --work DIR --voxide BIN [--out OUT] [--orthanc BIN --orthanc-plugin SO] [--quick]
Writes OUT/results.json and OUT/results.md (run.sh: target/bench-server/) and prints the
Markdown table. Exits 1 when any check failed (numbers are still written).
"""
import argparse
import calendar
import concurrent.futures
import io
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import warnings

import numpy as np
import pydicom
import requests
from pydicom.uid import ExplicitVRLittleEndian

TEMPLATE_REL = "../shared/data/multimodal/ibsi-sts/STS_002/CT"
UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root, as generate_uid uses
FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"
# Same for both servers: no HTTP compression (Orthanc gzips JSON by default when asked; voxide
# does not), so both do the same work on loopback.
COMMON_HEADERS = {"Accept-Encoding": "identity"}

# The STS_002 files' StudyID is 18 characters (SH allows 16): pydicom warns on every read.
warnings.filterwarnings("ignore", message="The value length")

ERRORS = []  # every failed check, with the request and the response


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def error(server, what, detail):
    entry = {"server": server, "what": what, "detail": detail}
    ERRORS.append(entry)
    log(f"CHECK FAILED ({server}): {what}: {str(detail)[:500]}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} while starting ({url})")
        try:
            r = requests.get(url, timeout=2)
            if r.status_code == 200:
                return r
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0]) / 1024.0  # MiB
    except OSError:
        pass
    return out


def du_bytes(path):
    total = 0
    for root, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(root, n)).st_blocks * 512
            except OSError:
                pass
    return total


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    def __init__(self, name, http_port, dicom_port, aet, data_dir, log_path):
        self.name = name
        self.http_port = http_port
        self.dicom_port = dicom_port
        self.aet = aet
        self.data_dir = data_dir
        self.log_path = log_path
        self.base = f"http://127.0.0.1:{http_port}"
        self.dicomweb = f"{self.base}/dicom-web"
        self.proc = None
        self.version = None

    def check_alive(self):
        """Raises if the server process has gone (crashed, or stopped by someone else)."""
        if self.proc is not None and self.proc.poll() is not None:
            try:
                with open(self.log_path, "rb") as f:
                    tail = f.read()[-1500:].decode(errors="replace")
            except OSError:
                tail = ""
            raise RuntimeError(f"{self.name} (pid {self.proc.pid}) exited with status {self.proc.returncode} "
                               f"before the end of the run; its log ({self.log_path}) ends with:\n{tail}")

    def stop(self):
        self.exited_early = self.proc is not None and self.proc.poll() is not None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Voxide(Server):
    durability = ("every instance durable before the answer: the object is written to a temporary file "
                  "(create-if-absent), fsynced, moved to its content-addressed name and its folder fsynced "
                  "(plus the parent folder when one of the 256 fan-out folders is new); the index in SQLite "
                  "(WAL, synchronous=FULL), one transaction per instance or per group of concurrent "
                  "instances (group commit), so every commit fsyncs the WAL: 3 fsyncs per instance on "
                  "one association (seen with strace)")

    def start(self, binary, work, durability="full", extra_config=""):
        cfg = os.path.join(work, f"{self.name}.toml")
        with open(cfg, "w") as f:
            f.write(f'data_dir = "{self.data_dir}"\n'
                    f'http = "127.0.0.1:{self.http_port}"\n'
                    f'dicom = "127.0.0.1:{self.dicom_port}"\n'
                    f'ae_title = "{self.aet}"\n'
                    f'durability = "{durability}"\n' + extra_config)
            # Orthanc runs with AuthenticationEnabled false: so does voxide here (what
            # authentication costs is measured by bench/trust).
            if "[auth]" not in extra_config:
                f.write("[auth]\nenabled = false\n")
        env = dict(os.environ, TCP_NODELAY="1")
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=open(self.log_path, "wb"),
                                     stderr=subprocess.STDOUT, env=env)
        wait_http(f"{self.base}/healthz", self.proc)
        out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
        self.version = out
        self.config_text = open(cfg).read()

    def count(self):
        self.check_alive()
        text = requests.get(f"{self.base}/metrics", timeout=30).text
        m = re.search(r"^voxide_instances_stored\s+(\S+)", text, re.M)
        return int(float(m.group(1))) if m else None


class Orthanc(Server):
    durability = ("Orthanc 1.10.1 defaults: the storage file is written in place at its final name "
                  "(O_TRUNC, no temporary file, no rename) and fdatasynced (SyncStorageArea=true, the "
                  "default since 1.7.4); its folder is not synced; the SQLite index runs in WAL mode "
                  "with synchronous=NORMAL and locking_mode=EXCLUSIVE, so commits are not synced (only "
                  "WAL checkpoints are): 1 fdatasync per instance (seen with strace); a power loss can "
                  "drop the last acknowledged instances from the index. MD5 of every file is computed "
                  "and stored (StoreMD5ForAttachments=true)")

    def start(self, binary, plugin, work):
        cfg = {
            "Name": "bench-orthanc",
            "StorageDirectory": os.path.join(self.data_dir, "storage"),
            "IndexDirectory": os.path.join(self.data_dir, "index"),
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": True,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": False,
            "Plugins": [plugin],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        path = os.path.join(work, "orthanc.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        self.config_text = json.dumps(cfg, indent=2)
        # Orthanc's DICOM layer is dcmtk: it also reads TCP_NODELAY from its environment (peers.md).
        env = dict(os.environ, TCP_NODELAY="1")
        self.proc = subprocess.Popen([binary, path], stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT,
                                     env=env, cwd=work)
        r = wait_http(f"{self.base}/system", self.proc)
        self.system = r.json()
        self.version = f"Orthanc {self.system.get('Version')}"
        try:
            p = requests.get(f"{self.base}/plugins/dicom-web", timeout=10).json()
            self.version += f", DICOMweb plugin {p.get('Version')}"
        except Exception:  # noqa: BLE001 - informational only
            pass
        # Fail early if the DICOMweb plugin is not serving.
        r = requests.get(f"{self.dicomweb}/studies", headers={"Accept": "application/dicom+json"}, timeout=30)
        if r.status_code not in (200, 204):
            raise RuntimeError(f"Orthanc's DICOMweb plugin does not answer: HTTP {r.status_code} {r.text[:200]}")

    def count(self):
        self.check_alive()
        return int(requests.get(f"{self.base}/statistics", timeout=30).json()["CountInstances"])


# ---------------------------------------------------------------------------------------------
# Data


def generate_ct_sets(py, repo, work, count, names):
    """CT instances from the STS_002 series with new UIDs, via the project's own generator."""
    template = os.path.join(repo, TEMPLATE_REL)
    gen = os.path.join(repo, "scripts/ref/dicomweb_conformance.py")
    procs = []
    for name in names:
        out = os.path.join(work, "data", name)
        procs.append(subprocess.Popen([py, "-W", "ignore", gen, "generate", template, out, str(count)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"generate failed: {err.decode()[-1000:]}")
    sets = {}
    for name in names:
        folder = os.path.join(work, "data", name)
        files = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".dcm"))
        meta = []
        for p in files:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
            nbytes = int(ds.Rows) * int(ds.Columns) * (int(ds.BitsAllocated) // 8) * int(ds.SamplesPerPixel)
            meta.append({"path": p, "study": str(ds.StudyInstanceUID), "series": str(ds.SeriesInstanceUID),
                         "sop": str(ds.SOPInstanceUID), "frame_bytes": nbytes})
        sets[name] = meta
    return sets


class SmallInstances:
    """Fast generator of small instances (16x16 int16) from one CT file: the file is written once
    by pydicom with fixed-width placeholder values, then each instance is the template bytes with
    the placeholders replaced by values of the same width (so no lengths change)."""

    PH = {
        "study": "7" * 47 + "1",
        "series": "7" * 47 + "2",
        "sop": "7" * 47 + "3",
        "name": "NAMEPL^ACEHO",
        "pid": "PIDPLACE",
        "acc": "ACCPLACEHO",
        "date": "19010203",
        "seriesno": "77777781",
        "instno": "77777782",
        "studyid": "STUDYIDP",
    }

    def __init__(self, template_file, seed):
        ds = pydicom.dcmread(template_file)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        for kw in ("SmallestImagePixelValue", "LargestImagePixelValue"):
            if kw in ds:
                delattr(ds, kw)
        ds.Rows = 16
        ds.Columns = 16
        ds.PixelData = (np.arange(256, dtype=np.int16) * 7 - 500).astype("<i2").tobytes()
        ds.StudyInstanceUID = self.PH["study"]
        ds.SeriesInstanceUID = self.PH["series"]
        ds.SOPInstanceUID = self.PH["sop"]
        ds.file_meta.MediaStorageSOPInstanceUID = self.PH["sop"]
        ds.PatientName = self.PH["name"]
        ds.PatientID = self.PH["pid"]
        ds.AccessionNumber = self.PH["acc"]
        ds.StudyDate = self.PH["date"]
        ds.SeriesNumber = self.PH["seriesno"]
        ds.InstanceNumber = self.PH["instno"]
        ds.StudyID = self.PH["studyid"]
        ds.StudyDescription = "BENCH QIDO"
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        self.template = buf.getvalue()
        for k, v in self.PH.items():
            n = self.template.count(v.encode())
            want = 2 if k == "sop" else 1
            if n != want:
                raise RuntimeError(f"placeholder {k} occurs {n} times in the template, expected {want}")
        # Check the template parses and has the placeholder values where expected.
        back = pydicom.dcmread(io.BytesIO(self.template))
        assert str(back.PatientID) == self.PH["pid"] and back.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        self.rng = random.Random(seed)
        self.run = self.rng.randint(10 ** 8, 10 ** 9 - 1)  # 9 digits: fixed-width UIDs
        self.studies = []  # {"uid","pid","name","date","acc","instances"}
        self.patients = []  # (pid, name)
        self.instances = 0
        self._series_in_study = 0
        self._inst_in_series = 0
        self._study = None
        self._series = None

    def _uid(self, kind, n):
        uid = f"{UID_ROOT}{self.run}.{kind}.{10 ** 9 + n}"
        assert len(uid) == 48, uid
        return uid

    def _new_patient(self):
        while True:
            fam = "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(6))
            if not fam.startswith("STS"):  # the CT sets' PatientName is STS_002
                break
        given = "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(5))
        pid = f"P{len(self.patients) + 1000000:07d}"
        self.patients.append((pid, f"{fam}^{given}"))

    def _new_study(self):
        n = len(self.studies)
        if n % 2 == 0:  # 2 studies per patient
            self._new_patient()
        pid, name = self.patients[-1]
        # 2010-2024 only: the CT sets are from 2006, so they never match a synthetic date range.
        y, m, d = self.rng.randint(2010, 2024), self.rng.randint(1, 12), self.rng.randint(1, 28)
        st = {"uid": self._uid(1, n), "pid": pid, "name": name, "date": f"{y:04d}{m:02d}{d:02d}",
              "acc": f"A{n + 100000000:09d}", "instances": 0, "studyid": f"S{n % 10 ** 7:07d}"}
        self.studies.append(st)
        self._study = st
        self._series_in_study = 0

    def make(self, count):
        """Yields `count` Part 10 byte strings: 10 instances per series, 2 series per study."""
        for _ in range(count):
            if self._study is None or (self._inst_in_series == 10 and self._series_in_study == 2):
                self._new_study()
            if self._series is None or self._inst_in_series == 10 or self._series_in_study == 0:
                self._series_in_study += 1
                self._series = self._uid(2, len(self.studies) * 10 + self._series_in_study)
                self._series_no = self._series_in_study
                self._inst_in_series = 0
            self._inst_in_series += 1
            st = self._study
            st["instances"] += 1
            b = self.template
            for k, v in (("study", st["uid"]), ("series", self._series), ("sop", self._uid(3, self.instances)),
                         ("name", st["name"]), ("pid", st["pid"]), ("acc", st["acc"]), ("date", st["date"]),
                         ("seriesno", f"{self._series_no:<8d}"), ("instno", f"{self._inst_in_series:<8d}"),
                         ("studyid", st["studyid"])):
                b = b.replace(self.PH[k].encode(), v.encode())
            self.instances += 1
            yield b


# ---------------------------------------------------------------------------------------------
# Measurements


def run_parallel(n_threads, items, fn):
    """Runs fn(session, item) over items with n_threads threads (shared queue, one
    requests.Session per thread). Returns (wall seconds, list of results)."""
    lock = threading.Lock()
    it = iter(enumerate(items))
    results = [None] * len(items)

    def worker():
        s = requests.Session()
        s.headers.update(COMMON_HEADERS)
        while True:
            with lock:
                try:
                    i, item = next(it)
                except StopIteration:
                    return
            results[i] = fn(s, item)

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, results


def multipart_body(parts_bytes):
    boundary = uuid.uuid4().hex
    chunks = []
    for b in parts_bytes:
        chunks.append(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n")
        chunks.append(b)
        chunks.append(b"\r\n")
    chunks.append(b"--" + boundary.encode() + b"--\r\n")
    return boundary, b"".join(chunks)


def stow_request(server, session, body_and_boundary):
    boundary, body, n = body_and_boundary
    r = session.post(f"{server.dicomweb}/studies", data=body, headers={
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json"}, timeout=600)
    ok = r.status_code == 200
    detail = None
    if ok:
        try:
            ans = r.json()
            refs = ans.get("00081199", {}).get("Value", [])
            failed = (ans.get("00081198") or {}).get("Value") or []  # Orthanc sends it empty
            if len(refs) != n or failed:
                ok = False
                detail = f"answer lists {len(refs)} of {n} stored; failed: {str(failed)[:300]}"
        except ValueError:
            ok, detail = False, f"answer is not JSON: {r.text[:300]}"
    else:
        detail = f"HTTP {r.status_code} {r.headers.get('Content-Type')} {r.text[:500]}"
    return ok, detail


def measure_stow(server, files, threads, per_request):
    bodies = []
    for i in range(0, len(files), per_request):
        group = []
        for m in files[i:i + per_request]:
            with open(m["path"], "rb") as f:
                group.append(f.read())
        boundary, body = multipart_body(group)
        bodies.append((boundary, body, len(group)))
    before = server.count()
    wall, res = run_parallel(threads, bodies, lambda s, b: stow_request(server, s, b))
    bad = [(i, d) for i, (ok, d) in enumerate(res) if not ok]
    for i, d in bad[:5]:
        error(server.name, f"STOW-RS POST {server.dicomweb}/studies (request {i}, {per_request} instances)", d)
    after = server.count()
    if after - before != len(files):
        error(server.name, "STOW-RS ingest count", f"index grew by {after - before}, expected {len(files)}")
    return {"instances": len(files), "requests": len(bodies), "failed_requests": len(bad), "threads": threads,
            "per_request": per_request, "wall_s": wall, "instances_per_s": len(files) / wall}


def measure_cstore(server, files, associations):
    lists = [files[i::associations] for i in range(associations)]
    env = dict(os.environ, TCP_NODELAY="1")
    before = server.count()
    procs = []
    t0 = time.perf_counter()
    for lst in lists:
        cmd = ["storescu", "-aet", "BENCHSCU", "-aec", server.aet, "127.0.0.1", str(server.dicom_port)]
        cmd += [m["path"] for m in lst]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outs = [p.communicate()[0].decode(errors="replace") for p in procs]
    wall = time.perf_counter() - t0
    for p, out in zip(procs, outs):
        if p.returncode != 0 or re.search(r"^[EF]: ", out, re.M):
            error(server.name, f"storescu to {server.aet}@127.0.0.1:{server.dicom_port}",
                  f"exit {p.returncode}: {out[-1500:]}")
    after = server.count()
    if after - before != len(files):
        error(server.name, f"C-STORE ingest count ({associations} associations)",
              f"index grew by {after - before}, expected {len(files)}")
    warnings = sum(len(re.findall(r"^W: ", o, re.M)) for o in outs)
    return {"instances": len(files), "associations": associations, "wall_s": wall,
            "instances_per_s": len(files) / wall, "storescu_warnings": warnings}


def measure_cstore_ceiling(files, associations):
    """What the client alone can do: storescu to dcmtk's storescp --ignore (receives, stores
    nothing; --fork for several associations at once)."""
    port = free_port()
    env = dict(os.environ, TCP_NODELAY="1")
    sink = subprocess.Popen(["storescp", "--fork", "--ignore", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        lists = [files[i::associations] for i in range(associations)]
        t0 = time.perf_counter()
        procs = [subprocess.Popen(["storescu", "127.0.0.1", str(port)] + [m["path"] for m in lst], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for lst in lists]
        for p in procs:
            p.wait()
        wall = time.perf_counter() - t0
    finally:
        sink.terminate()
        sink.wait()
    return {"instances": len(files), "associations": associations, "wall_s": wall,
            "instances_per_s": len(files) / wall}


def ingest_small_fast(server, payloads):
    """Fastest path per server (not a reported measure): voxide STOW-RS, 50 per request;
    Orthanc REST POST /instances (one per request; faster than its STOW-RS per peers.md)."""
    if isinstance(server, Orthanc):
        def post(s, b):
            r = s.post(f"{server.base}/instances", data=b, headers={"Content-Type": "application/dicom"},
                       timeout=600)
            return r.status_code == 200, f"HTTP {r.status_code} {r.text[:300]}"
        wall, res = run_parallel(4, payloads, post)
    else:
        batches = []
        for i in range(0, len(payloads), 50):
            boundary, body = multipart_body(payloads[i:i + 50])
            batches.append((boundary, body, len(payloads[i:i + 50])))
        wall, res = run_parallel(4, batches, lambda s, b: stow_request(server, s, b))
    bad = [d for ok, d in res if not ok]
    for d in bad[:5]:
        error(server.name, "QIDO data set ingest", d)
    return wall


def qido_queries(gen, n, rng, total_studies):
    """n queries of each type, drawn from the synthetic studies, with the expected study UIDs."""
    studies = gen.studies
    by_pid, by_prefix, by_acc = {}, {}, {}
    for st in studies:
        by_pid.setdefault(st["pid"], set()).add(st["uid"])
        by_prefix.setdefault(st["name"][:3], set()).add(st["uid"])
        by_acc[st["acc"]] = {st["uid"]}
    dates = sorted((st["date"], st["uid"]) for st in studies)
    offset = min(1000, max(0, total_studies - 100))
    out = {"patient_id": [], "patient_name_prefix": [], "study_date_range": [], "accession": [], "paging": []}
    for _ in range(n):
        st = rng.choice(studies)
        out["patient_id"].append(({"PatientID": st["pid"]}, by_pid[st["pid"]]))
        st = rng.choice(studies)
        p = st["name"][:3]
        out["patient_name_prefix"].append(({"PatientName": p + "*"}, by_prefix[p]))
        y, m = rng.randint(2010, 2024), rng.randint(1, 12)
        lo, hi = f"{y:04d}{m:02d}01", f"{y:04d}{m:02d}{calendar.monthrange(y, m)[1]:02d}"
        out["study_date_range"].append(({"StudyDate": f"{lo}-{hi}"}, {u for d, u in dates if lo <= d <= hi}))
        st = rng.choice(studies)
        out["accession"].append(({"AccessionNumber": st["acc"]}, by_acc[st["acc"]]))
        out["paging"].append(({"limit": "100", "offset": str(offset)}, min(100, max(0, total_studies - offset))))
    return out, offset


def qido_once(server, session, params):
    # '*' is sent as is (as browsers' URLSearchParams do): Orthanc 1.10.1 + DICOMweb 1.7 do not
    # percent-decode query values, so PatientName=ABC%2A would match nothing there.
    url = f"{server.dicomweb}/studies?" + urllib.parse.urlencode(params, safe="*")
    t0 = time.perf_counter()
    r = session.get(url, headers={"Accept": "application/dicom+json"}, timeout=120)
    dt = time.perf_counter() - t0
    return dt, r


def study_uids(r):
    if r.status_code == 204:
        return []
    return [item["0020000D"]["Value"][0] for item in r.json()]


def measure_qido(servers, queries, warmup=10):
    sessions = {}
    for s in servers:
        sessions[s.name] = requests.Session()
        sessions[s.name].headers.update(COMMON_HEADERS)
    for qtype, qs in queries.items():  # warm-up, untimed
        for params, _ in qs[:warmup]:
            for s in servers:
                qido_once(s, sessions[s.name], params)
    times = {s.name: {q: [] for q in queries} for s in servers}
    mismatches = {s.name: 0 for s in servers}
    n = len(next(iter(queries.values())))
    for i in range(n):
        for qtype, qs in queries.items():
            params, expected = qs[i]
            order = servers if i % 2 == 0 else list(reversed(servers))
            for s in order:
                dt, r = qido_once(s, sessions[s.name], params)
                times[s.name][qtype].append(dt)
                ok, detail = r.status_code in (200, 204), None
                if ok:
                    try:
                        got = study_uids(r)
                    except (ValueError, KeyError, IndexError, TypeError) as e:
                        ok, detail = False, f"unreadable answer ({e}): {r.text[:300]}"
                    else:
                        if isinstance(expected, int):
                            ok = len(got) == expected
                        else:
                            ok = set(got) == expected and len(got) == len(expected)
                        if not ok:
                            detail = f"{len(got)} studies, expected {expected if isinstance(expected, int) else len(expected)}"
                else:
                    detail = f"HTTP {r.status_code} {r.text[:300]}"
                if not ok:
                    mismatches[s.name] += 1
                    if mismatches[s.name] <= 5:
                        error(s.name, f"QIDO-RS GET {r.url}", detail)
    out = {}
    for s in servers:
        per = {}
        allt = []
        for q, ts in times[s.name].items():
            a = np.array(ts) * 1000
            allt.extend(a)
            per[q] = {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
                      "mean_ms": float(a.mean()), "n": len(a)}
        a = np.array(allt)
        per["overall"] = {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
                          "mean_ms": float(a.mean()), "n": len(a)}
        per["wrong_answers"] = mismatches[s.name]
        out[s.name] = per
    return out


def split_multipart(body, content_type):
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not m:
        raise ValueError(f"no boundary in Content-Type {content_type!r}")
    boundary = m.group(1).encode()
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("part without header/body separator")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        parts.append((head.decode(errors="replace"), payload))
    return parts


def frame_request(server, session, m):
    url = f"{server.dicomweb}/studies/{m['study']}/series/{m['series']}/instances/{m['sop']}/frames/1"
    r = session.get(url, headers={"Accept": FRAME_ACCEPT}, timeout=120)
    if r.status_code != 200:
        return False, f"GET {url}: HTTP {r.status_code} {r.headers.get('Content-Type')} {r.text[:300]}"
    try:
        parts = split_multipart(r.content, r.headers.get("Content-Type"))
    except ValueError as e:
        return False, f"GET {url}: {e}"
    if len(parts) != 1 or len(parts[0][1]) != m["frame_bytes"]:
        return False, (f"GET {url}: {len(parts)} parts, {[len(p) for _, p in parts]} bytes, "
                       f"expected 1 part of {m['frame_bytes']}")
    return True, None


def measure_frames(server, files, threads):
    s = requests.Session()
    for m in files[:10]:  # warm-up (connection, code paths)
        frame_request(server, s, m)
    wall, res = run_parallel(threads, files, lambda sess, m: frame_request(server, sess, m))
    bad = [d for ok, d in res if not ok]
    for d in bad[:5]:
        error(server.name, "WADO-RS frame", d)
    return {"frames": len(files), "failed": len(bad), "threads": threads, "wall_s": wall,
            "frames_per_s": len(files) / wall}


# ---------------------------------------------------------------------------------------------
# Report


def machine_info(repo, voxide, orthanc):
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, shell=True, cwd=repo).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    dirty = sh("git status --porcelain --untracked-files=no")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "voxide_commit": sh("git rev-parse HEAD") + (" (working tree modified)" if dirty else ""),
        "voxide_version": voxide.version,
        "orthanc_version": orthanc.version,
        "dcmtk": sh("storescu --version | head -1"),
        "python": platform.python_version(),
        "pydicom": pydicom.__version__,
        "filesystem": sh("df -T . | tail -1 | awk '{print $2}'"),
    }


def ratio(a, b):
    return a / b if a and b else None


def fmt(x, digits=1):
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}"


def markdown(res):
    rows = []
    V, O = "voxide", "orthanc"

    def thr(label, v, o):
        rows.append((label, fmt(v), fmt(o), fmt(ratio(v, o), 2)))

    def lat(label, v, o):
        rows.append((label, fmt(v, 2), fmt(o, 2), fmt(ratio(o, v), 2)))

    m = {k: (v if isinstance(v, list) else {V: v.get(V, {}), O: v.get(O, {})} if k != "disk_mib" else v)
         for k, v in res["measures"].items() if k not in ("relaxed", "cstore_ceiling")}
    n = res["params"]["ingest_count"]
    thr(f"C-STORE ingest, 4 associations, {n} CT instances (instances/s)",
        m["cstore_4"][V].get("instances_per_s"), m["cstore_4"][O].get("instances_per_s"))
    thr(f"C-STORE ingest, 1 association, {n} CT instances (instances/s)",
        m["cstore_1"][V].get("instances_per_s"), m["cstore_1"][O].get("instances_per_s"))
    ceiling = res["measures"].get("cstore_ceiling", {})
    for n_assoc in (4, 1):
        c = ceiling.get(n_assoc) or ceiling.get(str(n_assoc))
        if c:
            rows.append((f"C-STORE client ceiling, {n_assoc} association(s): storescu → storescp --ignore, "
                         f"which stores nothing (instances/s)", fmt(c["instances_per_s"]), "—", "—"))
    thr(f"STOW-RS ingest, 4 threads × 10/request, {n} CT instances (instances/s)",
        m["stow"][V].get("instances_per_s"), m["stow"][O].get("instances_per_s"))
    for tier in m["qido"]:
        q = tier["latency"]
        label = f"{tier['indexed_instances']:,} instances / {tier['studies']:,} studies"
        for qt in ["patient_id", "patient_name_prefix", "study_date_range", "accession", "paging", "overall"]:
            name = {"patient_id": "PatientID exact", "patient_name_prefix": "PatientName=ABC*",
                    "study_date_range": "StudyDate range (1 month)", "accession": "AccessionNumber exact",
                    "paging": f"all studies limit=100&offset={tier['paging_offset']}",
                    "overall": "all query types"}[qt]
            for p in ("p50_ms", "p95_ms"):
                lat(f"QIDO @ {label}: {name}, {p[:3]} (ms)", q[V][qt][p] if V in q else None,
                    q[O][qt][p] if O in q else None)
    relaxed = res["measures"].get("relaxed", {})
    for key, label in [("cstore_4", "C-STORE ingest, 4 associations"), ("cstore_1", "C-STORE ingest, 1 association"),
                       ("stow", "STOW-RS ingest, 4 threads × 10/request")]:
        if key in relaxed:
            thr(f"{label}, voxide with durability = relaxed (no fsync, like Orthanc's defaults) (instances/s)",
                relaxed[key].get("instances_per_s"), m[key][O].get("instances_per_s"))
    thr(f"WADO-RS frames/1, 4 threads, {n} CT instances (frames/s)",
        m["frames"][V].get("frames_per_s"), m["frames"][O].get("frames_per_s"))
    lat("Peak RSS, VmHWM, after all of the above (MiB)", m["rss"][V].get("VmHWM"), m["rss"][O].get("VmHWM"))
    lat("Storage used on disk, index + files (MiB)", m["disk_mib"].get(V), m["disk_mib"].get(O))
    out = ["| metric | voxide | Orthanc | ratio (>1: voxide better) |", "|---|---:|---:|---:|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    info = res.get("machine", {})
    text = ["# voxide vs Orthanc: server benchmark" + (" (QUICK mode: smoke test only)" if res["params"]["quick"] else ""),
            "",
            f"Ratios: voxide/Orthanc for throughput, Orthanc/voxide for latency, memory and disk.",
            "",
            *out,
            "",
            "## Machine and versions",
            "",
            *[f"- {k}: {v}" for k, v in info.items()],
            "",
            "## Durability (what each server does before answering a store)",
            "",
            f"- voxide (default, durability = full): {Voxide.durability}",
            "- voxide with durability = relaxed: no fsync per instance (files written through the OS cache, "
            "SQLite WAL with synchronous=NORMAL); survives a killed process, a power loss can lose the last "
            "acknowledged instances",
            f"- Orthanc: {Orthanc.durability}",
            "",
            "## Method",
            "",
            *[f"- {x}" for x in res["method"]],
            ""]
    if res["errors"]:
        text += ["## Failed checks", ""] + [f"- **{e['server']}** {e['what']}: `{str(e['detail'])[:600]}`"
                                             for e in res["errors"]] + [""]
    return "\n".join(text)


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--voxide", required=True)
    ap.add_argument("--orthanc", default=shutil.which("Orthanc") or "/usr/sbin/Orthanc")
    ap.add_argument("--orthanc-plugin", default="/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None, help="folder for results.json and results.md (default: WORK/..)")
    args = ap.parse_args()

    quick = args.quick
    ingest_count = 200 if quick else 2000
    tiers = [1000, 5000] if quick else [10_000, 100_000]
    n_queries = 200
    work = os.path.abspath(args.work)
    repo = os.path.abspath(args.repo)
    os.makedirs(os.path.join(work, "data"), exist_ok=True)
    t_start = time.time()

    log(f"generating 3 x {ingest_count} CT instances with new UIDs (+ 20 for warm-up)")
    sets = generate_ct_sets(sys.executable, repo, work, ingest_count, ["cstore4", "cstore1", "stow"])
    sets.update(generate_ct_sets(sys.executable, repo, work, 20, ["warmup"]))
    ct_studies = len({m["study"] for s in sets.values() for m in s})

    vx = Voxide("voxide", free_port(), free_port(), "VOXIDE", os.path.join(work, "voxide-data"),
                os.path.join(work, "voxide.log"))
    ot = Orthanc("orthanc", free_port(), free_port(), "ORTHANC", os.path.join(work, "orthanc-data"),
                 os.path.join(work, "orthanc.log"))
    servers = [vx, ot]
    measures = {"cstore_4": {}, "cstore_1": {}, "stow": {}, "qido": [], "frames": {}, "rss": {}, "disk_mib": {}}
    res = {"params": {"quick": quick, "ingest_count": ingest_count, "qido_tiers": tiers, "queries_per_type": n_queries},
           "measures": measures}
    try:
        vx.start(args.voxide, work)
        ot.start(args.orthanc, args.orthanc_plugin, work)
        log(f"voxide http {vx.http_port} dicom {vx.dicom_port} (pid {vx.proc.pid}); "
            f"Orthanc http {ot.http_port} dicom {ot.dicom_port} (pid {ot.proc.pid})")
        res["machine"] = machine_info(repo, vx, ot)
        res["configs"] = {"voxide": vx.config_text, "orthanc": ot.config_text}
        res["durability"] = {"voxide": Voxide.durability, "orthanc": Orthanc.durability}

        # Warm-up (untimed): one small association and one small STOW-RS request per server, so
        # that no measurement pays for first-use costs (index creation, code paging).
        warm = sets["warmup"]
        for s in servers:
            measure_cstore(s, warm[:len(warm) // 2], 1)
            measure_stow(s, warm[len(warm) // 2:], 1, 10)

        # Each measurement runs for one server then the other; the order alternates between
        # measurements so that neither always goes first.
        def ordered(k):
            return servers if k % 2 == 0 else list(reversed(servers))

        for s in ordered(0):
            log(f"{s.name}: C-STORE, 4 associations, {ingest_count} instances")
            measures["cstore_4"][s.name] = measure_cstore(s, sets["cstore4"], 4)
            log(f"  {measures['cstore_4'][s.name]['instances_per_s']:.1f} instances/s")
        for s in ordered(1):
            log(f"{s.name}: C-STORE, 1 association, {ingest_count} instances")
            measures["cstore_1"][s.name] = measure_cstore(s, sets["cstore1"], 1)
            log(f"  {measures['cstore_1'][s.name]['instances_per_s']:.1f} instances/s")
        for s in ordered(2):
            log(f"{s.name}: STOW-RS, 4 threads x 10 per request, {ingest_count} instances")
            measures["stow"][s.name] = measure_stow(s, sets["stow"], 4, 10)
            log(f"  {measures['stow'][s.name]['instances_per_s']:.1f} instances/s")

        measures["cstore_ceiling"] = {}
        for n_assoc, key in [(4, "cstore4"), (1, "cstore1")]:
            log(f"client ceiling: storescu -> storescp --ignore, {n_assoc} association(s)")
            measures["cstore_ceiling"][n_assoc] = measure_cstore_ceiling(sets[key], n_assoc)
            log(f"  {measures['cstore_ceiling'][n_assoc]['instances_per_s']:.1f} instances/s")

        template = sorted(m["path"] for m in sets["cstore4"])[0]
        gen = SmallInstances(template, seed=20240601)
        qrng = random.Random(7)
        for target in tiers:
            counts = {s.name: s.count() for s in servers}
            if len(set(counts.values())) != 1:
                error("both", f"instance counts differ before the {target} tier", counts)
            need = target - max(counts.values())
            log(f"QIDO tier {target}: generating and ingesting {need} small instances into both servers")
            payloads = list(gen.make(need))
            ingest = {}
            for s in servers:
                ingest[s.name] = ingest_small_fast(s, payloads)
                log(f"  {s.name}: {need / ingest[s.name]:.0f} instances/s (not a reported measure)")
            del payloads
            counts = {s.name: s.count() for s in servers}
            for s in servers:
                if counts[s.name] != target:
                    error(s.name, f"index holds {counts[s.name]} instances, expected {target}", counts)
            total_studies = len(gen.studies) + ct_studies
            queries, offset = qido_queries(gen, n_queries, qrng, total_studies)
            log(f"QIDO tier {target}: {n_queries} x {len(queries)} query types per server, interleaved")
            lat = measure_qido(servers, queries)
            measures["qido"].append({"indexed_instances": target, "studies": total_studies, "paging_offset": offset,
                                     "ingest_s": ingest, "latency": lat})
            for s in servers:
                log(f"  {s.name}: overall p50 {lat[s.name]['overall']['p50_ms']:.2f} ms, "
                    f"p95 {lat[s.name]['overall']['p95_ms']:.2f} ms")

        for s in ordered(3):
            log(f"{s.name}: WADO-RS frames, 4 threads, {ingest_count} instances")
            measures["frames"][s.name] = measure_frames(s, sets["cstore4"], 4)
            log(f"  {measures['frames'][s.name]['frames_per_s']:.1f} frames/s")

        for s in servers:
            measures["rss"][s.name] = proc_status(s.proc.pid)
            measures["disk_mib"][s.name] = du_bytes(s.data_dir) / 2 ** 20

        # Ingest again into a fresh voxide with durability = "relaxed" (no fsync per instance),
        # the kind of guarantee Orthanc's defaults give, for a like-for-like ingest comparison.
        vr = Voxide("voxide-relaxed", free_port(), free_port(), "VOXIDE", os.path.join(work, "voxide-relaxed-data"),
                    os.path.join(work, "voxide-relaxed.log"))
        servers.append(vr)
        vr.start(args.voxide, work, durability="relaxed")
        measure_cstore(vr, warm[:len(warm) // 2], 1)
        measures["relaxed"] = {}
        for key, fn in [("cstore_4", lambda: measure_cstore(vr, sets["cstore4"], 4)),
                        ("cstore_1", lambda: measure_cstore(vr, sets["cstore1"], 1)),
                        ("stow", lambda: measure_stow(vr, sets["stow"], 4, 10))]:
            log(f"voxide-relaxed: {key}")
            measures["relaxed"][key] = fn()
            log(f"  {measures['relaxed'][key]['instances_per_s']:.1f} instances/s")
    except Exception:  # noqa: BLE001 - record, still write what was measured
        gone = []
        for s in servers:
            try:
                s.check_alive()
            except RuntimeError as e:
                gone.append(str(e))
        error("harness", "aborted", "\n".join(gone) or traceback.format_exc())
    finally:
        for s in servers:
            s.stop()
        for s in servers:
            if getattr(s, "exited_early", False):
                error(s.name, "server process", f"exited with {s.proc.returncode} before the run ended; "
                      f"see {s.log_path}")
            elif s.proc is not None and s.proc.returncode not in (0, None, -15):
                error(s.name, "server exit status", f"{s.proc.returncode}; see {s.log_path}")

    res["method"] = [
        "Both servers run at the same time on this machine, fresh storage, own ports; each measurement is "
        "taken for one server, then the other, the order alternating between measurements (QIDO: "
        "alternating query by query). Before the measurements each server gets an untimed warm-up "
        "(10 CT instances by C-STORE, 10 by STOW-RS).",
        "C-STORE: dcmtk storescu with TCP_NODELAY=1 in its environment (and in both servers'), default "
        "presentation contexts; N associations = N storescu processes over N disjoint subsets (round robin); "
        "instances/s = files / wall time of all processes; every server's instance count checked after.",
        "STOW-RS: raw Part 10 bytes, 10 per multipart/related request, 4 threads with a requests.Session "
        "each; every response must be 200 and list every instance.",
        "CT instances: scripts/ref/dicomweb_conformance.py generate from STS_002/CT (143x161 int16, "
        "Implicit VR LE, ~48 KB), three sets with new UIDs (C-STORE x4, C-STORE x1, STOW-RS).",
        "QIDO: the index is topped up to the stated total with small instances (16x16 int16, Explicit VR LE, "
        "10 per series, 2 series per study, 2 studies per patient, random 6-letter names, dates 2010-2024, "
        "unique accession numbers) via each server's fastest path (voxide: STOW-RS 50/request, 4 threads; "
        "Orthanc: REST POST /instances, 4 threads); then per query type "
        f"{n_queries} timed requests (after 10 warm-up ones) on one persistent session per server, with "
        "varied values; every answer is checked against the expected study UIDs (paging: the count). "
        "Accept: application/dicom+json, Accept-Encoding: identity (no gzip) for both.",
        "QIDO wildcards are sent as a literal '*' in the query string (as browsers send them): Orthanc "
        "1.10.1 with DICOMweb plugin 1.7 does not percent-decode query values, so PatientName=ABC%2A "
        "(what Python requests sends by default) matches nothing there.",
        "The paging query's offset is min(1000, studies - 100) so that it returns a full page where the "
        "index holds fewer than 1,100 studies.",
        f"WADO-RS: GET .../frames/1 of the C-STORE x4 set, Accept: {FRAME_ACCEPT}, 4 threads; each "
        "answer must be one part of Rows*Columns*2 bytes.",
        "Orthanc runs with its built-in defaults except the keys listed in results.json (configs). Defaults "
        "that matter here: StorageAccessOnFind=Always (QIDO may read files; 'Never' made its QIDO ~15-30% "
        "faster in a side test), MaximumStorageCacheSize=128 MB (WADO reads of recent files come from RAM), "
        "HttpCompressionEnabled=true (not used: clients send Accept-Encoding: identity), DicomThreadsCount=4, "
        "SyncStorageArea=true; its DICOMweb plugin 1.7 answers a study search with extra internal REST calls "
        "per returned study, which dominates the paging query.",
        "Peak RSS: VmHWM of each server process from /proc/PID/status after everything; disk: du of each "
        "server's data folder.",
    ]
    res["errors"] = ERRORS
    res["wall_s"] = time.time() - t_start
    out = os.path.abspath(args.out or os.path.dirname(work))
    os.makedirs(out, exist_ok=True)
    json_path, md_path = os.path.join(out, "results.json"), os.path.join(out, "results.md")
    with open(json_path, "w") as f:
        json.dump(res, f, indent=2, default=str)
    md = markdown(res)
    with open(md_path, "w") as f:
        f.write(md)
    print(md)
    log(f"wrote {json_path} and {md_path} in {res['wall_s']:.0f} s")
    if ERRORS:
        log(f"{len(ERRORS)} check(s) failed; see 'Failed checks'")
        sys.exit(1)


if __name__ == "__main__":
    main()
