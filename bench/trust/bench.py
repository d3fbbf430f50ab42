#!/usr/bin/env python3
"""What the trust features cost: `voxide serve` with authentication and the audit ledger on (the
defaults) against the same binary with both off (`[auth] enabled = false`, `[ledger] enabled =
false`), same machine, same run, fresh storage each.

With them on, every request is a clinician's (an API token; granted one collection, which its
uploads join), so each request is authenticated (the token's Argon2id check once, then the
remembered result), authorised, and scoped: QIDO-RS answers are filtered to the collection's
studies. DICOM associations come from an allow-listed peer with the same role and collection.

Measured in alternation (on, off, off, on, ...) so that background load hits both alike:
  a. STOW-RS ingest of CT instances (4 threads, 10 instances per request), several rounds of
     fresh instances; instances per second.
  b. C-STORE ingest with dcmtk storescu, 1 association, fresh instances; instances per second.
  c. QIDO-RS study searches (patient ID, name prefix, date range, accession, paging) over
     10,000 indexed instances (2,000 with --quick); latency per query.

Reuses the servers, data generators and measurements of bench/server/bench.py.
Usage (normally through bench/trust/run.sh): bench.py --repo ROOT --work DIR --voxide BIN [--quick]
Writes WORK/../results.json and results.md and prints the table.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import bench as server_bench  # noqa: E402
from bench import (SmallInstances, Voxide, free_port, generate_ct_sets, ingest_small_fast,  # noqa: E402
                   log, measure_cstore, measure_qido, measure_stow, qido_queries)


TRUST_ON = """[ledger]
enabled = true
[auth]
enabled = true
[[auth.dicom_peers]]
ae_title = "BENCHSCU"
addresses = ["127.0.0.1"]
role = "clinician"
collections = ["bench"]
upload_collection = "bench"
"""
TRUST_OFF = "[ledger]\nenabled = false\n[auth]\nenabled = false\n"


def send_token_with_every_request(token):
    """Every request of this process (requests' functions and sessions alike) carries the
    bearer token; the server with authentication off ignores it."""
    send = server_bench.requests.Session.request

    def with_token(self, method, url, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Authorization", f"Bearer {token}")
        return send(self, method, url, headers=headers, **kwargs)

    server_bench.requests.Session.request = with_token


class TrustVoxide(Voxide):
    """voxide with authentication and the ledger on or off; otherwise configured as bench/server
    configures it."""

    def __init__(self, trust, *a, **kw):
        super().__init__(*a, **kw)
        self.trust = trust

    def start(self, binary, work, durability="full", extra_config=""):
        if self.trust:
            out = subprocess.run([binary, "token", "create", "--data-dir", self.data_dir, "--name", "bench",
                                  "--role", "clinician", "--collection", "bench", "--upload-collection", "bench"],
                                 capture_output=True, text=True, check=True)
            send_token_with_every_request(out.stdout.strip())
            # Counting stored instances reads /metrics: an auditor's right, not a clinician's.
            out = subprocess.run([binary, "token", "create", "--data-dir", self.data_dir, "--name", "monitor",
                                  "--role", "auditor"], capture_output=True, text=True, check=True)
            self.monitor_token = out.stdout.strip()
        super().start(binary, work, durability, extra_config + (TRUST_ON if self.trust else TRUST_OFF))

    def count(self):
        if not self.trust:
            return super().count()
        self.check_alive()
        text = server_bench.requests.get(f"{self.base}/metrics", timeout=30,
                                         headers={"Authorization": f"Bearer {self.monitor_token}"}).text
        m = re.search(r"^voxide_instances_stored\s+(\S+)", text, re.M)
        return int(float(m.group(1))) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--voxide", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    work, repo = os.path.abspath(args.work), os.path.abspath(args.repo)
    rounds = 2 if args.quick else 4
    per_round = 100 if args.quick else 300
    qido_instances = 2000 if args.quick else 10_000
    n_queries = 60 if args.quick else 200
    os.makedirs(os.path.join(work, "data"), exist_ok=True)

    names = [f"stow{r}_{s}" for r in range(rounds) for s in ("on", "off")]
    names += [f"cstore{r}_{s}" for r in range(rounds) for s in ("on", "off")] + ["warm_on", "warm_off"]
    log(f"generating {len(names)} sets of {per_round} CT instances with new UIDs")
    sets = generate_ct_sets(sys.executable, repo, work, per_round, names)

    on = TrustVoxide(True, "trust-on", free_port(), free_port(), "VOXIDE", os.path.join(work, "on-data"),
                      os.path.join(work, "on.log"))
    off = TrustVoxide(False, "trust-off", free_port(), free_port(), "VOXIDE", os.path.join(work, "off-data"),
                       os.path.join(work, "off.log"))
    servers = {"on": on, "off": off}
    results = {"stow": {"on": [], "off": []}, "cstore": {"on": [], "off": []}}
    try:
        for s in servers.values():
            s.start(args.voxide, work)
        for key, s in servers.items():
            measure_stow(s, sets[f"warm_{key}"], 1, 10)
        for r in range(rounds):
            order = ["on", "off"] if r % 2 == 0 else ["off", "on"]
            for key in order:
                m = measure_stow(servers[key], sets[f"stow{r}_{key}"], 4, 10)
                results["stow"][key].append(m["instances_per_s"])
                log(f"round {r} STOW-RS trust {key}: {m['instances_per_s']:.1f} instances/s")
            for key in reversed(order):
                m = measure_cstore(servers[key], sets[f"cstore{r}_{key}"], 1)
                results["cstore"][key].append(m["instances_per_s"])
                log(f"round {r} C-STORE trust {key}: {m['instances_per_s']:.1f} instances/s")

        log(f"indexing {qido_instances} small instances in each server for QIDO-RS")
        gen = SmallInstances(sorted(m["path"] for m in sets["warm_on"])[0], seed=7)
        payloads = list(gen.make(qido_instances))
        for s in servers.values():
            ingest_small_fast(s, payloads)
        total_studies = len(gen.studies) + len({m["study"] for v in sets.values() for m in v}) // 2
        queries, _ = qido_queries(gen, n_queries, random.Random(11), total_studies)
        # Paging answers depend on the CT studies too: keep the exact-match query types.
        queries.pop("paging")
        qido = measure_qido([on, off], queries)
        ledger_size = json.loads(server_bench.requests.get(
            f"{on.base}/api/ledger", timeout=60,
            headers={"Authorization": f"Bearer {on.monitor_token}"}).text)["size"]
    finally:
        for s in servers.values():
            s.stop()

    def med(v):
        return float(np.median(v))

    res = {
        "params": {"rounds": rounds, "instances_per_round": per_round, "qido_instances": qido_instances,
                   "queries_per_type": n_queries},
        "stow_instances_per_s": {k: results["stow"][k] for k in ("on", "off")},
        "cstore_instances_per_s": {k: results["cstore"][k] for k in ("on", "off")},
        "qido": qido,
        "ledger_entries_at_end": ledger_size,
        "errors": server_bench.ERRORS,
    }
    stow_loss = 1 - med(results["stow"]["on"]) / med(results["stow"]["off"])
    cstore_loss = 1 - med(results["cstore"]["on"]) / med(results["cstore"]["off"])
    q_on, q_off = qido["trust-on"]["overall"], qido["trust-off"]["overall"]
    qido_loss = q_on["p50_ms"] / q_off["p50_ms"] - 1
    lines = [
        "| measure | auth and ledger off | auth and ledger on | cost |",
        "|---|---|---|---|",
        f"| STOW-RS ingest, 4 threads (median of {rounds} rounds of {per_round}) | "
        f"{med(results['stow']['off']):.1f} inst/s | {med(results['stow']['on']):.1f} inst/s | {stow_loss * 100:+.1f}% |",
        f"| C-STORE ingest, 1 association (median of {rounds} rounds of {per_round}) | "
        f"{med(results['cstore']['off']):.1f} inst/s | {med(results['cstore']['on']):.1f} inst/s | {cstore_loss * 100:+.1f}% |",
        f"| QIDO-RS study search, p50 over {q_on['n']} queries ({qido_instances} instances) | "
        f"{q_off['p50_ms']:.2f} ms | {q_on['p50_ms']:.2f} ms | {qido_loss * 100:+.1f}% |",
        f"| QIDO-RS study search, p95 | {q_off['p95_ms']:.2f} ms | {q_on['p95_ms']:.2f} ms | "
        f"{(q_on['p95_ms'] / q_off['p95_ms'] - 1) * 100:+.1f}% |",
    ]
    table = "\n".join(lines)
    out = os.path.dirname(work)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=2)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    print(f"ledger entries at the end: {ledger_size}; wrong answers: on {qido['trust-on']['wrong_answers']}, "
          f"off {qido['trust-off']['wrong_answers']}; check errors: {len(server_bench.ERRORS)}")
    return 1 if server_bench.ERRORS else 0


if __name__ == "__main__":
    sys.exit(main())
