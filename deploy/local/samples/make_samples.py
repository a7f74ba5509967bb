#!/usr/bin/env python3
"""Writes the demo's sample tickets, deploy/local/samples/tickets.csv and
tickets.json (300 tickets, ids TICKET-10001.., created_at spread over the 14
days before 2026-11-28), from the evaluation set's text.

The texts come from services/classifier/corpus/eval.ndjson, which the model
never trains on, so what `make demo` shows is what the evaluation figures it
prints describe; the labels are left out (the demo's job is to classify).

    python3 deploy/local/samples/make_samples.py
"""
import csv
import datetime
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
EVAL = os.path.join(ROOT, "services", "classifier", "corpus", "eval.ndjson")


def main():
    with open(EVAL, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rng = random.Random(777)
    picked = rng.sample(rows, 300)
    base = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=datetime.timezone.utc)
    sample = []
    for i, t in enumerate(picked):
        created = base - datetime.timedelta(milliseconds=rng.randrange(14 * 24 * 3600 * 1000))
        sample.append({"id": f"TICKET-{10001 + i}", "subject": t["subject"], "body": t["body"],
                       "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.")
                       + f"{created.microsecond // 1000:03d}Z"})
    sample.sort(key=lambda t: t["created_at"])
    with open(os.path.join(HERE, "tickets.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        w.writerow(["id", "subject", "body", "created_at"])
        for t in sample[0::2]:
            w.writerow([t["id"], t["subject"], t["body"], t["created_at"]])
    with open(os.path.join(HERE, "tickets.json"), "w", encoding="utf-8") as f:
        json.dump(sample[1::2], f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
