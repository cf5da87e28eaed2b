#!/usr/bin/env python3
"""Ratios and targets from the last `cargo bench -p tollgate --bench validate` run.

Reads criterion's `<target>/criterion/<group>/<function>/new/estimates.json` (the target
directory is $CARGO_TARGET_DIR, else ./target) and prints a Markdown table: the time of each
function (median of the samples, a statistic that ignores the slow samples a shared machine
produces) and the ratios the targets are stated in, each computed from that one run.

    python3 bench/ratios.py            # medians
    python3 bench/ratios.py --stat mean
"""

import argparse
import json
import os
import sys

ALGS = ["RS256", "ES256", "EdDSA", "HS256"]
FUNCS = ["raw", "tollgate", "jsonwebtoken"]

# (label, numerator, denominator, limit): numerator / denominator must be <= limit.
TARGETS = [
    ("RS256 tollgate / raw", ("RS256", "tollgate"), ("RS256", "raw"), 1.10),
    ("RS256 tollgate / jsonwebtoken", ("RS256", "tollgate"), ("RS256", "jsonwebtoken"), 0.80),
    ("ES256 tollgate / raw", ("ES256", "tollgate"), ("ES256", "raw"), 1.05),
    ("EdDSA tollgate / raw", ("EdDSA", "tollgate"), ("EdDSA", "raw"), 1.05),
    ("HS256 tollgate / jsonwebtoken", ("HS256", "tollgate"), ("HS256", "jsonwebtoken"), 0.40),
    ("ES256 1000 keys / 1 key", ("keyset", "1000"), ("keyset", "1"), 1.05),
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
    root = args.criterion_dir or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "criterion"
    )
    if not os.path.isdir(root):
        sys.exit(f"no criterion results under {root}: run cargo bench -p tollgate --bench validate")

    t = {(g, f): load(root, g, f, args.stat) for g in ALGS for f in FUNCS}
    t[("keyset", "1")] = load(root, "keyset", "1", args.stat)
    t[("keyset", "1000")] = load(root, "keyset", "1000", args.stat)

    def ratio(a, b):
        return None if t[a] is None or t[b] is None else t[a] / t[b]

    print(f"Times ({args.stat} of criterion samples) and ratios, one run:\n")
    print("| alg | raw | tollgate | jsonwebtoken | tollgate / raw | tollgate / jsonwebtoken |")
    print("|---|---:|---:|---:|---:|---:|")
    for g in ALGS:
        r1 = ratio((g, "tollgate"), (g, "raw"))
        r2 = ratio((g, "tollgate"), (g, "jsonwebtoken"))
        print(
            f"| {g} | {fmt_time(t[(g, 'raw')])} | {fmt_time(t[(g, 'tollgate')])} | "
            f"{fmt_time(t[(g, 'jsonwebtoken')])} | "
            f"{'-' if r1 is None else f'{r1:.3f}x'} | {'-' if r2 is None else f'{r2:.3f}x'} |"
        )
    print(
        f"\nES256 key set: 1 key {fmt_time(t[('keyset', '1')])}, "
        f"1000 keys {fmt_time(t[('keyset', '1000')])}\n"
    )
    print("| target | measured | limit | |")
    print("|---|---:|---:|---|")
    missed = 0
    for label, a, b, limit in TARGETS:
        r = ratio(a, b)
        if r is None:
            print(f"| {label} | - | <= {limit:.2f}x | not measured |")
            missed += 1
            continue
        ok = r <= limit
        missed += not ok
        print(f"| {label} | {r:.3f}x | <= {limit:.2f}x | {'met' if ok else 'MISSED'} |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
