#!/usr/bin/env python3
"""What the audit ledger costs: `voxide serve` with the ledger on against the same binary with
it off (`[ledger] enabled = false`), same machine, same run, fresh storage each.

Measured in alternation (on, off, off, on, ...) so that background load hits both alike:
  a. STOW-RS ingest of CT instances (4 threads, 10 instances per request), several rounds of
     fresh instances; instances per second.
  b. C-STORE ingest with dcmtk storescu, 1 association, fresh instances; instances per second.
  c. QIDO-RS study searches (patient ID, name prefix, date range, accession, paging) over
     10,000 indexed instances (2,000 with --quick); latency per query.

Reuses the servers, data generators and measurements of bench/server/bench.py.
Usage (normally through bench/ledger/run.sh): bench.py --repo ROOT --work DIR --voxide BIN [--quick]
Writes WORK/../results.json and results.md and prints the table.
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import bench as server_bench  # noqa: E402
from bench import (SmallInstances, Voxide, free_port, generate_ct_sets, ingest_small_fast,  # noqa: E402
                   log, measure_cstore, measure_qido, measure_stow, qido_queries)


class LedgerVoxide(Voxide):
    """voxide with the ledger on or off; otherwise configured as bench/server configures it."""

    def __init__(self, ledger, *a, **kw):
        super().__init__(*a, **kw)
        self.ledger = ledger

    def start(self, binary, work, durability="full", extra_config=""):
        ledger = "true" if self.ledger else "false"
        super().start(binary, work, durability, extra_config + f"[ledger]\nenabled = {ledger}\n")


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

    on = LedgerVoxide(True, "ledger-on", free_port(), free_port(), "VOXIDE", os.path.join(work, "on-data"),
                      os.path.join(work, "on.log"))
    off = LedgerVoxide(False, "ledger-off", free_port(), free_port(), "VOXIDE", os.path.join(work, "off-data"),
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
                log(f"round {r} STOW-RS ledger {key}: {m['instances_per_s']:.1f} instances/s")
            for key in reversed(order):
                m = measure_cstore(servers[key], sets[f"cstore{r}_{key}"], 1)
                results["cstore"][key].append(m["instances_per_s"])
                log(f"round {r} C-STORE ledger {key}: {m['instances_per_s']:.1f} instances/s")

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
        ledger_size = json.loads(server_bench.requests.get(f"{on.base}/api/ledger", timeout=60).text)["size"]
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
    q_on, q_off = qido["ledger-on"]["overall"], qido["ledger-off"]["overall"]
    qido_loss = q_on["p50_ms"] / q_off["p50_ms"] - 1
    lines = [
        "| measure | ledger off | ledger on | cost of the ledger |",
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
    print(f"ledger entries at the end: {ledger_size}; wrong answers: on {qido['ledger-on']['wrong_answers']}, "
          f"off {qido['ledger-off']['wrong_answers']}; check errors: {len(server_bench.ERRORS)}")
    return 1 if server_bench.ERRORS else 0


if __name__ == "__main__":
    sys.exit(main())
