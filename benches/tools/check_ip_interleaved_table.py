#!/usr/bin/env python3
"""Prints the README table of the interleaved check_ip mode from its output.

    CHECK_IP_INTERLEAVED=1 cargo bench --bench check_ip -- check_ip/v 2> run.txt
    python3 benches/tools/check_ip_interleaved_table.py run.txt [run2.txt ...]

With several runs, each cell is the minimum over the runs (each run already keeps the minimum
of its 200 rounds). The fastest peer is the fastest of the four peers the mode times.
"""
import re
import sys

PEERS = ["poptrie", "lpm", "spm", "lc"]
FIELDS = ["check", "named", "many", "set", "floor"] + PEERS
LINE = re.compile(r"^interleaved (\S+)\s+(.*?)\|\s*(.*?)\|")

best = {}
order = []
for path in sys.argv[1:]:
    for line in open(path):
        m = LINE.match(line)
        if not m:
            continue
        label = m.group(1)
        words = (m.group(2) + " " + m.group(3)).split()
        values = dict(zip(words[0::2], map(float, words[1::2])))
        if label not in best:
            best[label] = values
            order.append(label)
        else:
            for k, v in values.items():
                best[label][k] = min(best[label].get(k, v), v)

print("| list / stream | `check` ns | `check_many` ns | fastest peer ns (which) | "
      "peer / `check` | peer / `check_many` |")
print("|---|--:|--:|--:|--:|--:|")
names = {"poptrie": "poptrie", "lpm": "prefix-trie lpm", "spm": "prefix-trie spm",
         "lc": "iptrie"}
for label in order:
    v = best[label]
    peer = min(PEERS, key=lambda p: v[p])
    fastest = v[peer]
    print(f"| {label} | {v['check']:.1f} | {v['many']:.1f} | {fastest:.1f} ({names[peer]}) | "
          f"{fastest / v['check']:.2f}x | {fastest / v['many']:.2f}x |")
