#!/usr/bin/env python3
"""Ratios and targets from the last `cargo bench -p tollgate --bench validate` run.

Reads criterion's `<dir>/<group>/<function>/new/estimates.json` and the bench's paired pass
`<dir>/paired.json` (`<dir>` is $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else
./target/criterion; run from the repository root) and prints Markdown tables: the time of each
function (median of the samples, a statistic that ignores the slow samples a shared machine
produces) and the ratios the targets are stated in, all from that one run. Exits 1 when a
target is missed.

    python3 bench/ratios.py            # medians
    python3 bench/ratios.py --stat mean
"""

import argparse
import json
import os
import sys

ALGS = ["RS256", "ES256", "EdDSA", "HS256"]
FUNCS = ["raw", "tollgate", "jsonwebtoken", "tollgate_map", "jsonwebtoken_map"]

# (label, numerator, denominator, limit, name in paired.json): numerator / denominator
# must be <= limit.
TARGETS = [
    ("RS256 tollgate / raw", ("RS256", "tollgate"), ("RS256", "raw"), 1.10, "RS256/tollgate/raw"),
    ("RS256 tollgate / jsonwebtoken", ("RS256", "tollgate"), ("RS256", "jsonwebtoken"), 0.80,
     "RS256/tollgate/jsonwebtoken"),
    ("ES256 tollgate / raw", ("ES256", "tollgate"), ("ES256", "raw"), 1.05, "ES256/tollgate/raw"),
    ("EdDSA tollgate / raw", ("EdDSA", "tollgate"), ("EdDSA", "raw"), 1.05, "EdDSA/tollgate/raw"),
    ("HS256 tollgate / jsonwebtoken", ("HS256", "tollgate"), ("HS256", "jsonwebtoken"), 0.40,
     "HS256/tollgate/jsonwebtoken"),
    ("ES256 1000 keys / 1 key", ("keyset", "1000"), ("keyset", "1"), 1.05, "keyset/1000/1"),
]


def load(root, group, func, stat):
    path = os.path.join(root, group, func, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)[stat]["point_estimate"]  # nanoseconds
    except FileNotFoundError:
        return None


def fmt_time(ns):
    if ns is None:
        return "-"
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    return f"{ns:.0f} ns"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stat", default="median", choices=["median", "mean", "slope"])
    ap.add_argument("--criterion-dir", default=None)
    args = ap.parse_args()
    root = (
        args.criterion_dir
        or os.environ.get("CRITERION_HOME")
        or os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    )
    if not os.path.isdir(root):
        sys.exit(f"no criterion results under {root}: run cargo bench -p tollgate --bench validate")

    t = {(g, f): load(root, g, f, args.stat) for g in ALGS for f in FUNCS}
    t[("keyset", "1")] = load(root, "keyset", "1", args.stat)
    t[("keyset", "1000")] = load(root, "keyset", "1000", args.stat)

    def ratio(a, b):
        return None if t[a] is None or t[b] is None else t[a] / t[b]

    print(f"Times ({args.stat} of criterion samples) and ratios, one run:\n")
    print("| alg | raw | tollgate | jsonwebtoken (typed) | tollgate + map | jsonwebtoken (map) "
          "| tollgate / raw | tollgate / jsonwebtoken |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for g in ALGS:
        r1 = ratio((g, "tollgate"), (g, "raw"))
        r2 = ratio((g, "tollgate"), (g, "jsonwebtoken"))
        print(
            f"| {g} | {fmt_time(t[(g, 'raw')])} | {fmt_time(t[(g, 'tollgate')])} | "
            f"{fmt_time(t[(g, 'jsonwebtoken')])} | {fmt_time(t[(g, 'tollgate_map')])} | "
            f"{fmt_time(t[(g, 'jsonwebtoken_map')])} | "
            f"{'-' if r1 is None else f'{r1:.3f}x'} | {'-' if r2 is None else f'{r2:.3f}x'} |"
        )
    print(
        f"\nES256 key set: 1 key {fmt_time(t[('keyset', '1')])}, "
        f"1000 keys {fmt_time(t[('keyset', '1000')])}\n"
    )
    paired = {}
    try:
        with open(os.path.join(root, "paired.json")) as f:
            paired = {r["name"]: r for r in json.load(f)}
    except FileNotFoundError:
        pass

    print("Targets. `paired`: the two sides timed in alternating 0.15-0.3 ms batches, median of the")
    print("per-round ratios (IQR); `criterion`: ratio of the criterion times above. A target")
    print("is judged on the paired ratio, which cancels load that drifts between functions.\n")
    print("| target | limit | paired (IQR) | criterion | |")
    print("|---|---:|---:|---:|---|")
    missed = 0
    for label, a, b, limit, name in TARGETS:
        r = ratio(a, b)
        p = paired.get(name)
        judged = p["median"] if p else r
        crit = "-" if r is None else f"{r:.3f}x"
        pair = "-" if p is None else f"{p['median']:.3f}x ({p['q1']:.3f}-{p['q3']:.3f})"
        if judged is None:
            verdict = "not measured"
            missed += 1
        elif judged <= limit:
            verdict = "met"
        else:
            verdict = "MISSED"
            missed += 1
        print(f"| {label} | <= {limit:.2f}x | {pair} | {crit} | {verdict} |")
    if paired:
        others = [n for n in paired if n not in {t[4] for t in TARGETS}]
        if others:
            print("\nOther paired ratios: " + ", ".join(
                f"{n} {paired[n]['median']:.3f}x" for n in others))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
