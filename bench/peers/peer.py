"""peer.py - the comparison peer of issue 9: triage's ingest -> classify ->
update path written the way a typical Python service would be (pymongo +
confluent-kafka): each poll's tickets inserted with one insert_many, then
classified and updated one at a time. For benchmarks only.

The classification is the built-in model's decision for the same text,
replayed from a file that `tkbench decisions` writes, so both sides do the
same work around it (a dict look-up is cheaper than the model: the peer is
favoured here).

    python peer.py BROKERS INBOUND_TOPIC CLASSIFIED_TOPIC GROUP MONGO_URI DB DECISIONS
Runs until SIGTERM.
"""
import datetime
import json
import signal
import sys
import time

import pymongo
from confluent_kafka import Consumer, Producer


def main():
    brokers, inbound, classified, group, uri, dbname, decisions_path = sys.argv[1:8]
    decisions = {}
    with open(decisions_path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            decisions[(d["subject"], d["body"])] = d

    tickets = pymongo.MongoClient(uri)[dbname]["tickets"]
    tickets.create_index("id", unique=True)
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": True})
    producer = Producer({"bootstrap.servers": brokers})
    consumer.subscribe([inbound])
    running = True

    def stop(*_):
        nonlocal running
        running = False
    signal.signal(signal.SIGTERM, stop)

    while running:
        # Inserts batched at ingest, as a Python service would write them:
        # what one poll returns (up to 500 messages), one insert_many.
        msgs = consumer.consume(num_messages=500, timeout=0.2)
        batch = []
        for msg in msgs:
            if msg.error():
                continue
            ticket = json.loads(msg.value())
            now = datetime.datetime.now(datetime.timezone.utc)
            batch.append({"id": ticket["id"], "subject": ticket["subject"],
                          "body": ticket["body"], "source": "kafka",
                          "processed": False, "created_at": now, "updated_at": now})
        if not batch:
            continue
        try:
            tickets.insert_many(batch, ordered=False)
        except pymongo.errors.BulkWriteError:
            pass  # redelivered tickets already stored
        # Then each ticket classified and updated one at a time.
        for doc in batch:
            started = time.monotonic()
            d = decisions.get((doc["subject"], doc["body"]))
            if d is None:
                continue
            took = int((time.monotonic() - started) * 1000)
            done = datetime.datetime.now(datetime.timezone.utc)
            tickets.update_one({"id": doc["id"]}, {"$set": {
                "processed": True,
                "classification": {"topic_tags": d["topic_tags"], "sentiment": d["sentiment"],
                                   "priority": d["priority"]},
                "confidence_scores": d["confidence_scores"],
                "processing_metadata": {"processed_at": done, "model_version": d["model_version"],
                                        "processing_time_ms": took, "agent_version": "peer-py"},
                "updated_at": done}})
            producer.produce(classified, key=doc["id"], value=json.dumps(
                {"id": doc["id"], "classification": {"topic_tags": d["topic_tags"],
                 "sentiment": d["sentiment"], "priority": d["priority"]}}))
            producer.poll(0)
    producer.flush(10)
    consumer.close()


if __name__ == "__main__":
    main()
