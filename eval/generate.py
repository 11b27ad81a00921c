#!/usr/bin/env python3
"""Regenerates the Palisade efficacy corpus (attacks/, benign/, holdout/).

Deterministic: the same script produces byte-identical files. Run from any
directory: `python3 eval/generate.py`.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generate_attacks  # noqa: E402
import generate_benign  # noqa: E402
import generate_holdout  # noqa: E402
import generate_holdout2  # noqa: E402


def write(path, cases):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for case in cases:
            f.write(json.dumps(case, ensure_ascii=False, sort_keys=True) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    attacks = generate_attacks.build_all()
    for category, cases in sorted(attacks.items()):
        write(os.path.join(here, "attacks", category + ".jsonl"), cases)
    benign = generate_benign.build_all()
    by_note = {}
    for case in benign:
        by_note.setdefault(case.get("note", "misc").split("-")[0], []).append(case)
    for note, cases in sorted(by_note.items()):
        write(os.path.join(here, "benign", note + ".jsonl"), cases)
    generate_holdout.main(os.path.join(here, "holdout"))
    generate_holdout2.main(os.path.join(here, "holdout"))
    total_a = sum(len(c) for c in attacks.values())
    print("attacks: %d in %d categories; benign: %d" % (total_a, len(attacks), len(benign)))


if __name__ == "__main__":
    main()
