"""explain.py URI DB - the query plans of the api's typical filters, as the
server reports them (FerretDB answers with its backend's plan, SQLite or
PostgreSQL, and whether the filter was pushed down; MongoDB with its winning plan). Prints JSON."""
import json
import sys

import pymongo

FILTERS = {
    "by id": {"id": "bench-0000042"},
    "processed, P0, newest first": {"processed": True, "classification.priority": "P0 (High)"},
    "unprocessed": {"processed": False},
    "search 'refund' (escaped regex)": {"$or": [{"subject": {"$regex": "refund", "$options": "i"}},
                                                {"body": {"$regex": "refund", "$options": "i"}}]},
}


def main():
    db = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)[sys.argv[2]]
    out = {"indexes": sorted(db.tickets.index_information().keys()), "plans": {}}
    for name, flt in FILTERS.items():
        e = db.command("explain", {"find": "tickets", "filter": flt, "sort": {"created_at": -1},
                                   "limit": 50}, verbosity="queryPlanner")
        qp = e.get("queryPlanner", {})
        plan = qp.get("Plan") or qp.get("winningPlan")
        out["plans"][name] = {"plan": plan, "filterPushdown": e.get("filterPushdown"),
                              "sortPushdown": e.get("sortPushdown")}
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
