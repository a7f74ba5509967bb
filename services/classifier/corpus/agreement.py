#!/usr/bin/env python3
"""Agreement between two labellings of the same tickets (Cohen's kappa).

    agreement.py FIRST.ndjson SECOND.ndjson

Both files hold {"id", "topic_tags", "sentiment", "priority"} per line; the
tickets both files hold are compared. Prints, per field, the share of exact
agreement and Cohen's kappa: for sentiment and priority over the single
label, for topic tags over every (ticket, tag) pair as a yes/no decision
(the taxonomy's nine tags), and the share of tickets whose tag sets are
equal. Standard library only.
"""
import json
import sys
from collections import Counter

TAGS = ["How-to", "Product", "Connector", "Lineage", "API/SDK", "SSO", "Glossary",
        "Best practices", "Sensitive data"]


def load(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                t = json.loads(line)
                out[t["id"]] = t
    return out


def kappa(pairs):
    """Cohen's kappa of a list of (a, b) label pairs."""
    n = len(pairs)
    if n == 0:
        return float("nan"), float("nan")
    observed = sum(a == b for a, b in pairs) / n
    ca = Counter(a for a, _ in pairs)
    cb = Counter(b for _, b in pairs)
    expected = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    k = (observed - expected) / (1 - expected) if expected < 1 else 1.0
    return observed, k


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    first, second = load(sys.argv[1]), load(sys.argv[2])
    ids = sorted(set(first) & set(second))
    print(f"tickets labelled by both: {len(ids)}")
    for field in ("sentiment", "priority"):
        agree, k = kappa([(first[i][field], second[i][field]) for i in ids])
        print(f"{field:<10} agreement {agree:.3f}  Cohen's kappa {k:.3f}")
    pairs = [(tag in first[i]["topic_tags"], tag in second[i]["topic_tags"])
             for i in ids for tag in TAGS]
    agree, k = kappa(pairs)
    same = sum(set(first[i]["topic_tags"]) == set(second[i]["topic_tags"]) for i in ids)
    print(f"{'topics':<10} agreement {agree:.3f}  Cohen's kappa {k:.3f} "
          f"(over {len(pairs)} ticket-tag pairs); identical tag sets {same / len(ids):.3f}")


if __name__ == "__main__":
    main()
