#!/usr/bin/env python3
"""Prints the README table of `cargo bench --bench check_ip` from target/criterion.

Median time per iteration / 4096 addresses = ns per lookup; the ratio is the fastest peer's
ns per lookup divided by ours (above 1 means ours is faster).
"""
import json
import pathlib
import sys

STREAM = 4096
PEERS = ["prefix_trie_spm", "prefix_trie_lpm", "ip_network_table", "iptrie_lc", "poptrie"]
OURS = ["ours_check", "ours_check_ip_named", "ours_check_many"]

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
rows = {}
for bench in root.glob("**/new/benchmark.json"):
    meta = json.loads(bench.read_text())
    group = meta["group_id"]
    if not group.startswith("check_ip/") or group.startswith("check_ip/build"):
        continue
    est = json.loads((bench.parent / "estimates.json").read_text())
    ns = est["median"]["point_estimate"] / meta.get("throughput", {}).get("Elements", STREAM)
    rows.setdefault(group, {})[meta["function_id"]] = ns

def order(group):
    _, lst, stream = group.split("/")
    fam, size = lst.split("_", 1)
    size_key = {"3": 0, "100": 1, "10000": 2, "bgp_full": 3}.get(size, 9)
    return (fam, size_key, stream)

print("| list | stream | ours `check` | ours named | ours `check_many` | linear scan | "
      "prefix-trie spm | prefix-trie lpm | ip_network_table | iptrie | poptrie | "
      "fastest peer / ours |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for group in sorted(rows, key=order):
    r = rows[group]
    _, lst, stream = group.split("/")
    cell = lambda k: f"{r[k]:.1f}" if k in r else "-"
    fastest = min(r[p] for p in PEERS if p in r)
    ours = min(r[o] for o in ("ours_check", "ours_check_many") if o in r)
    print(f"| {lst} | {stream} | {cell('ours_check')} | {cell('ours_check_ip_named')} | "
          f"{cell('ours_check_many')} | {cell('linear_scan')} | "
          + " | ".join(cell(p) for p in PEERS)
          + f" | {fastest / r['ours_check']:.1f}x (check), {fastest / ours:.1f}x (best) |")
