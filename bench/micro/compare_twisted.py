#!/usr/bin/env python3
"""Run torsion's micro benchmarks and Twisted's (../shared/bench/twisted/micro.py) in one go
and print a Markdown table of medians and ratios.

    bench/micro/compare_twisted.py [--bench build/bench/micro/torsion_micro_bench]
                                   [--twisted ../shared/bench/twisted/micro.py]
                                   [--repetitions 5]

torsion's figure is the median of --repetitions runs of each benchmark (items_per_second);
Twisted's is one run of micro.py under Debian's /usr/bin/python3 (python3-twisted).
"""
import argparse
import json
import os
import re
import subprocess
import sys

# torsion benchmark -> the line micro.py prints for the same workload
PAIRS = [
    ("BM_DeferredCallbackChain", "Deferred callbacks (10 per Deferred)", "callbacks/s"),
    ("BM_AwaitFired", "await succeed() in coroutine", "awaits/s"),
    ("BM_AwaitUnfired", "inlineCallbacks yield unfired Deferred", "awaits/s"),
    ("BM_ClockCallLaterAndRun/5000", "task.Clock callLater+run", "calls/s"),
]


def torsion_rates(binary, repetitions):
    names = "|".join(re.escape(p[0]) + "$" for p in PAIRS)
    out = subprocess.run(
        [binary, f"--benchmark_filter={names}", f"--benchmark_repetitions={repetitions}",
         "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    rates = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            rates[b["run_name"]] = b["items_per_second"]
    return rates


def twisted_rates(script):
    python = "/usr/bin/python3"
    out = subprocess.run([python, script], check=True, capture_output=True, text=True).stdout
    rates = {}
    for line in out.splitlines():
        m = re.match(r"(.*?): ([\d,]+) ops/s", line)
        if m:
            rates[m.group(1)] = float(m.group(2).replace(",", ""))
    return rates


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=os.path.join(root, "build/bench/micro/torsion_micro_bench"))
    ap.add_argument("--twisted", default=os.path.join(root, "../shared/bench/twisted/micro.py"))
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    ours = torsion_rates(args.bench, args.repetitions)
    theirs = twisted_rates(args.twisted) if os.path.exists(args.twisted) else {}
    print("| workload | torsion (median) | Twisted 22.4 | torsion / Twisted |")
    print("|---|---:|---:|---:|")
    for name, label, unit in PAIRS:
        t = ours.get(name)
        tw = next((v for k, v in theirs.items() if k.startswith(label)), None)
        ratio = f"{t / tw:,.0f}x" if t and tw else "n/a"
        print(f"| `{name}` ({unit}) | {t / 1e6:,.1f} M/s | "
              f"{(f'{tw / 1e3:,.0f} k/s' if tw else 'n/a')} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
