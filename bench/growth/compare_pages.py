#!/usr/bin/env python3
"""compare_pages.py API_URL MONGO_URI DB [PATH...] - checks, byte for byte,
the list pages an api answers from its side tables (TRIAGE_LIST_SQL_URL,
decision 0017) against a reference computed from the collection.

The api behind API_URL must run with TRIAGE_AUTH=off on database DB of the
MongoDB-wire server MONGO_URI, and nothing may write to DB meanwhile. PATH
is a list request relative to /api/ ("tickets?topic=SSO&limit=50", as
bench/run's GROWTH_PATHS); the checker adds the other dashboard filters,
sorts and searches of tests/integration/test_api_list_index.c that make
sense at any size (DEFAULT_QUERIES, and a few whose dates or id are taken
from the data: data_queries). --only: only the PATHs given. --pages N:
pages followed per query (default 2).

How: the collection is read once (pymongo, only the fields the filters,
sorts and searches read, in large batches) into a model; for each query
the reference is the ordered list of the ids that match, as
query_filter.c's MongoDB filter and query_sort.c's sort and keyset define
them. Then, for each page (the next one through the api's own
next_cursor), the api's whole body must equal the page assembled from the
reference: '{"items":[' + each ticket as GET /api/tickets/{id} renders it
(read from the collection by id) + '],"count":N,"limit":L,"next_cursor":C}'
with C the cursor query_sort.c makes of the reference's last item (null on
the last page) -- so ids, order, every item's bytes and the cursor are
all checked. X-Triage-Source must be "index".

Prints one JSON line per query:
  {"query": PATH, "pages": P, "tickets": T, "ok": bool,
   "first_difference": null or what differed first}
and, on stderr, one JSON line of totals and times. Exits 1 when any query
differed, 2 when the reference cannot be exact (a stored ticket of
another shape than the side tables' `exact` accepts: the api answers such
a database from the collection anyway) or on a usage error. Standard library and pymongo only.

Searches are kept to printable ASCII: a q with any other character is
declined by the side tables (list_sql.c, like_pattern) and read from the
collection, and a reference for it would need Go's full Unicode case
folding (FerretDB's $regex); with an ASCII q only the two non-ASCII letters
whose simple folding is ASCII (U+017F, U+212A) fold into it, as
triage_fold in ticket-list-tables.sql says, and the model folds them too.
"""
import datetime
import heapq
import http.client
import json
import sys
import time
import urllib.parse

import pymongo
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS

# The queries of tests/integration/test_api_list_index.c's queries[] that
# hold at any size (those with fixed dates are in data_queries instead; the
# default listing, limit=50 alone, is answered from the snapshot, not the
# index). Each gets --pages pages.
DEFAULT_QUERIES = [
    "tickets?status=failed&limit=50",
    "tickets?status=processed,failed&topic=Connector&limit=7",
    "tickets?sort=processed_at&limit=200",
    "tickets?confidence_below=0.31&needs_review=false&limit=50",
    "tickets?needs_review=false&priority=P2%20(Low)&limit=50",
    "tickets?sentiment=Curious,Neutral&topic=SSO,Lineage&limit=50",
    "tickets?sort=created_at&limit=1000",
    "tickets?sort=priority&limit=50",
    "tickets?sort=-priority&limit=50",
    "tickets?sort=sentiment&status=processed&limit=50",
    "tickets?sort=-sentiment&status=processed&limit=7",
    "tickets?sort=confidence_topic&limit=25",
    "tickets?sort=-confidence_priority&needs_review=true&limit=25",
    "tickets?sort=-confidence_sentiment&limit=30",
    "tickets?sort=confidence_priority&priority=P0%20(High)&limit=40",
    "tickets?corrected=true&limit=50",
    "tickets?corrected=false&priority=P0%20(High)&sort=-confidence_priority&limit=25",
    "tickets?corrected=true&status=processed&sort=-processed_at&limit=20",
    "tickets?q=REFUND&status=processed&limit=50",
    "tickets?q=p1%20(&limit=50",
    "tickets?q=angr&topic=SSO&limit=50",
    "tickets?q=angr&sort=-sentiment&limit=20",
    "tickets?q=angr&status=unprocessed&limit=50",
    "tickets?q=100%25_off&limit=50",
    "tickets?q=a_b&limit=50",
    "tickets?q=kelvin&limit=50",
    "tickets?q=since&limit=50",
    "tickets?q=zzzq&limit=50",
    "tickets?q=ticket%2012&limit=50",
    "tickets?sort=sentiment&q=refund&limit=40",
    "tickets?corrected=true&q=refund&sort=sentiment&limit=10",
]

# query_sort.c's sorts: name -> (kind, cursor code descending, ascending).
SORTS = {
    "created_at": ("date", "c", "C"),
    "processed_at": ("date", "p", "P"),
    "priority": ("label", "r", "R"),
    "sentiment": ("label", "s", "S"),
    "confidence_topic": ("number", "t", "T"),
    "confidence_sentiment": ("number", "e", "E"),
    "confidence_priority": ("number", "i", "I"),
}

# The fields of a ticket in the model (one tuple per ticket).
(ID, CREATED, PROCESSED, ATTEMPTS, PRIORITY, SENTIMENT, TOPICS, CONF_TOPIC, CONF_SENTIMENT,
 CONF_PRIORITY, REVIEW, PROCESSED_AT, STORED_AT, CORRECTED, TEXT) = range(15)
SORT_FIELD = {"created_at": CREATED, "processed_at": PROCESSED_AT, "priority": PRIORITY,
              "sentiment": SENTIMENT, "confidence_topic": CONF_TOPIC,
              "confidence_sentiment": CONF_SENTIMENT, "confidence_priority": CONF_PRIORITY}
TIME_FIELD = {"created": CREATED, "processed": PROCESSED_AT, "stored": STORED_AT}

# triage_fold (ticket-list-tables.sql), which is what Go's (?i) does to the
# text an ASCII pattern can match: ASCII letters lower-cased, U+017F (long
# s) and U+212A (Kelvin sign) as s and k. str.lower() would do more.
FOLD = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
FOLD[0x017F] = ord("s")
FOLD[0x212A] = ord("k")

PROJECTION = {"id": 1, "created_at": 1, "processed": 1, "processing_attempts": 1,
              "classification": 1, "confidence_scores": 1, "needs_review": 1,
              "processing_metadata": 1, "stored_at": 1}


class Inexact(Exception):
    """A stored ticket whose fields have types the model does not reproduce."""


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def ms_of(v, what, doc_id):
    if v is None:
        return None
    if not isinstance(v, DatetimeMS):
        raise Inexact(f"ticket {doc_id}: {what} is not a date")
    return int(v)


def fold(s):
    return s.translate(FOLD)


def parse(path):
    """The query of a PATH: a dict of its parameters as query_filter.c reads
    them, or raises ValueError for one the model does not reproduce."""
    base, _, qs = path.partition("?")
    if base != "tickets":
        raise ValueError("only GET /api/tickets lists are compared")
    q = {"status": set(), "labels": {}, "times": {}, "conf": None, "review": None,
         "corrected": None, "text": "", "sort": "-created_at", "limit": 50}
    for key, value in urllib.parse.parse_qsl(qs, keep_blank_values=True, strict_parsing=True):
        if key == "status":
            q["status"].update(value.split(","))
        elif key in ("topic", "sentiment", "priority"):
            q["labels"].setdefault(key, set()).update(v.strip() for v in value.split(","))
        elif key in ("created_from", "created_to", "processed_from", "processed_to",
                     "stored_from", "stored_to"):
            d = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            q["times"][key] = int(d.timestamp() * 1000)
        elif key == "confidence_below":
            q["conf"] = float(value)
        elif key == "needs_review":
            q["review"] = value == "true"
        elif key == "corrected":
            q["corrected"] = value == "true"
        elif key == "q":
            if any(ord(c) < 0x20 or ord(c) > 0x7E for c in value):
                raise ValueError("a search with other than printable ASCII: read from the collection")
            q["text"] = value
        elif key == "sort":
            if value.lstrip("-") not in SORTS:
                raise ValueError(f"unknown sort {value}")
            q["sort"] = value
        elif key == "limit":
            q["limit"] = int(value)
        else:
            raise ValueError(f"parameter {key} is not modelled")
    return q


class Model:
    """Every ticket of the collection, the fields the lists read."""

    def __init__(self, terms):
        self.terms = [fold(t) for t in terms]  # q values, folded; bit i of TEXT
        self.tickets = []
        self.labels = {}  # label (any kind) -> the same str object, and ASCII-case index
        self.topic_sets = {}

    def intern(self, s):
        return self.labels.setdefault(s, s)

    def text_bits(self, doc, c):
        fields = [fold(f) for f in (doc.get("id"), doc.get("subject"), doc.get("body"))
                  if isinstance(f, str)]
        for k in ("topic_tags", "sentiment", "priority"):
            v = c.get(k)
            if isinstance(v, str):
                fields.append(fold(v))
            elif isinstance(v, list):
                fields.extend(fold(x) for x in v if isinstance(x, str))
        bits = 0
        for i, t in enumerate(self.terms):
            if any(t in f for f in fields):
                bits |= 1 << i
        return bits

    def add(self, doc):
        tid = doc.get("id")
        if not isinstance(tid, str) or doc.get("_id") != tid:
            raise Inexact(f"ticket {doc.get('_id')!r}: id is not a string equal to _id")
        if self.terms and not (isinstance(doc.get("subject"), str) and isinstance(doc.get("body"), str)):
            raise Inexact(f"ticket {tid}: subject or body is not a string")
        processed = doc.get("processed")
        if not isinstance(processed, bool):
            raise Inexact(f"ticket {tid}: processed is not a boolean")
        attempts = doc.get("processing_attempts")
        if attempts is not None and not is_num(attempts):
            raise Inexact(f"ticket {tid}: processing_attempts is not a number")
        review = doc.get("needs_review")
        if review is not None and not isinstance(review, bool):
            raise Inexact(f"ticket {tid}: needs_review is not a boolean")
        c = doc.get("classification", {})
        cs = doc.get("confidence_scores", {})
        pm = doc.get("processing_metadata", {})
        if not (isinstance(c, dict) and isinstance(cs, dict) and isinstance(pm, dict)):
            raise Inexact(f"ticket {tid}: a sub-document of another type")
        pri, sen, tags = c.get("priority"), c.get("sentiment"), c.get("topic_tags", [])
        if not all(v is None or isinstance(v, str) for v in (pri, sen)):
            raise Inexact(f"ticket {tid}: a label is not a string")
        if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
            raise Inexact(f"ticket {tid}: topic_tags is not an array of strings")
        confs = [cs.get(k) for k in ("topic", "sentiment", "priority")]
        if not all(v is None or is_num(v) for v in confs):
            raise Inexact(f"ticket {tid}: a confidence is not a number")
        topics = tuple(self.intern(x) for x in tags)
        topics = self.topic_sets.setdefault(topics, topics)
        self.tickets.append((
            tid, ms_of(doc.get("created_at"), "created_at", tid) if "created_at" in doc
            else self._missing(tid, "created_at"),
            processed, attempts,
            self.intern(pri) if pri is not None else None,
            self.intern(sen) if sen is not None else None,
            topics, confs[0], confs[1], confs[2], review is True,
            ms_of(pm.get("processed_at"), "processed_at", tid),
            ms_of(doc.get("stored_at"), "stored_at", tid),
            "corrected_at" in pm,
            self.text_bits(doc, c) if self.terms else 0,
        ))

    @staticmethod
    def _missing(tid, what):
        raise Inexact(f"ticket {tid}: no {what}")

    def canonical(self, label):
        """The stored label equal to label but for ASCII case, as
        tk_taxonomy_canonical finds it (a label no ticket holds matches
        none either way)."""
        for stored in self.labels:
            if stored.lower() == label.lower() and stored.isascii() and label.isascii():
                return stored
        return label

    def predicate(self, q):
        """A function ticket -> bool: query_filter.c's filter and, for a sort
        other than created_at, query_sort.c's "the field is there"."""
        tests = []
        st = q["status"]
        if st:
            def status(t, st=st):
                return (("processed" in st and t[PROCESSED] is True)
                        or ("unprocessed" in st and t[PROCESSED] is False)
                        or ("failed" in st and t[PROCESSED] is False
                            and t[ATTEMPTS] is not None and t[ATTEMPTS] > 0))
            tests.append(status)
        for kind, values in q["labels"].items():
            want = {self.canonical(v) for v in values}
            if kind == "topic":
                tests.append(lambda t, w=want: any(x in w for x in t[TOPICS]))
            else:
                f = PRIORITY if kind == "priority" else SENTIMENT
                tests.append(lambda t, w=want, f=f: t[f] in w)
        for key, ms in q["times"].items():
            f = TIME_FIELD[key.split("_")[0]]
            if key.endswith("_from"):
                tests.append(lambda t, f=f, ms=ms: t[f] is not None and t[f] >= ms)
            else:
                tests.append(lambda t, f=f, ms=ms: t[f] is not None and t[f] < ms)
        if q["conf"] is not None:
            v = q["conf"]
            tests.append(lambda t, v=v: any(x is not None and x < v
                                            for x in (t[CONF_TOPIC], t[CONF_SENTIMENT], t[CONF_PRIORITY])))
        if q["review"] is not None:
            tests.append(lambda t, r=q["review"]: t[REVIEW] is r)
        if q["corrected"] is not None:
            tests.append(lambda t, c=q["corrected"]: t[CORRECTED] is c)
        if q["text"]:
            bit = 1 << self.terms.index(fold(q["text"]))
            tests.append(lambda t, b=bit: t[TEXT] & b)
        name = q["sort"].lstrip("-")
        if name != "created_at":
            f = SORT_FIELD[name]
            tests.append(lambda t, f=f: t[f] is not None)
        return lambda t: all(test(t) for test in tests)

    def reference(self, q, n):
        """The first n tickets of q in its order (query_sort.c: a date sort
        on (date, id), a label or number sort on (value, created_at, id),
        all in the sort's direction; strings compare by code point, which is
        UTF-8's byte order, as MongoDB and COLLATE "C" compare them)."""
        name = q["sort"].lstrip("-")
        f = SORT_FIELD[name]
        match = self.predicate(q)
        rows = [t for t in self.tickets if match(t)]
        if SORTS[name][0] == "date":
            key = lambda t: (t[f], t[ID])
        else:
            key = lambda t: (t[f], t[CREATED], t[ID])
        # Every key is distinct (the id is in it), so the n largest in
        # descending order are exactly the descending sort's first n.
        pick = heapq.nlargest if q["sort"].startswith("-") else heapq.nsmallest
        return pick(n, rows, key=key)


def cursor_of(q, t):
    """query_sort.c's cursor after ticket t in q's sort, or None when it
    cannot make one (a negative date)."""
    name = q["sort"].lstrip("-")
    kind, desc_code, asc_code = SORTS[name]
    code = desc_code if q["sort"].startswith("-") else asc_code
    hex_id = t[ID].encode().hex()
    if kind == "date":
        ms = t[SORT_FIELD[name]]
        return None if ms < 0 else f"{code}{ms}.{hex_id}"
    v = t[SORT_FIELD[name]]
    key = v if kind == "label" else "%.17g" % v
    return None if t[CREATED] < 0 else f"{code}{key.encode().hex()}.{t[CREATED]}.{hex_id}"


def read_model(mongo_uri, db, terms):
    client = pymongo.MongoClient(mongo_uri)
    coll = client[db].get_collection(
        "tickets", codec_options=CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS))
    proj = dict(PROJECTION)
    if terms:
        proj.update(subject=1, body=1)
    model = Model(terms)
    for doc in coll.find({}, proj, batch_size=10000):
        model.add(doc)
    client.close()
    return model


def data_queries(model):
    """Queries whose dates come from the data: an hour (or a day) of
    created_at, of processed_at and of stored_at (when tickets have one)
    from their medians, with sorts across it."""
    out = []

    def hour_of(field):
        vals = sorted(t[field] for t in model.tickets if t[field] is not None)
        if not vals:
            return None
        ms = vals[len(vals) // 2] // 3600000 * 3600000
        iso = lambda m: datetime.datetime.fromtimestamp(m / 1000, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        return iso(ms), iso(ms + 3600000), iso(ms + 24 * 3600000)

    h = hour_of(CREATED)
    if h:
        out += [f"tickets?created_from={h[0]}&created_to={h[1]}&limit=50",
                f"tickets?sort=priority&created_from={h[0]}&created_to={h[1]}&limit=15",
                f"tickets?sort=-priority&created_from={h[0]}&created_to={h[1]}&limit=15",
                f"tickets?sort=confidence_topic&created_from={h[0]}&created_to={h[2]}&limit=25"]
    h = hour_of(PROCESSED_AT)
    if h:
        out += [f"tickets?processed_from={h[0]}&sort=processed_at&limit=50",
                f"tickets?processed_from={h[0]}&processed_to={h[2]}&status=processed&topic=SSO&limit=20"]
    h = hour_of(STORED_AT)
    if h:
        out += [f"tickets?stored_from={h[0]}&limit=50",
                f"tickets?stored_to={h[1]}&sort=created_at&limit=30",
                f"tickets?stored_from={h[0]}&stored_to={h[2]}&corrected=false&sort=-processed_at&limit=50"]
    else:
        out += ["tickets?stored_from=2000-01-01T00:00:00Z&limit=50"]  # none: an empty page
    return out


class Api:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.conn = None
        self.singles = {}  # id -> GET /api/tickets/{id} body

    def get(self, path):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                return r.status, r.getheader("X-Triage-Source", ""), r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def single(self, tid):
        if tid not in self.singles:
            status, _, body = self.get("/api/tickets/" + urllib.parse.quote(tid, safe=""))
            if status != 200:
                raise RuntimeError(f"GET /api/tickets/{tid}: HTTP {status}")
            self.singles[tid] = body
        return self.singles[tid]


def items_of(body):
    """The raw bytes of each item of a page body, or None when it is not a
    page."""
    text = body.decode("utf-8")
    if not text.startswith('{"items":['):
        return None
    dec = json.JSONDecoder()
    i, out = len('{"items":['), []
    while text[i] != "]":
        _, end = dec.raw_decode(text, i)
        out.append(text[i:end].encode())
        i = end + (text[end] == ",")
    return out


def first_difference(got, want, want_ids, api):
    """Where the api's page (got) first differs from the reference's
    (want), in words."""
    items = items_of(got)
    if items is None:
        return f"not a page: {got[:200]!r}"
    got_ids = [json.loads(x).get("id") for x in items]
    for i, (g, w) in enumerate(zip(got_ids, want_ids)):
        if g != w:
            return f"item {i}: id {g} where the collection gives {w}"
    if len(got_ids) != len(want_ids):
        extra = (got_ids[len(want_ids)] if len(got_ids) > len(want_ids)
                 else f"(none; the collection gives {want_ids[len(got_ids)]})")
        return f"{len(got_ids)} items where the collection gives {len(want_ids)}; item {min(len(got_ids), len(want_ids))}: {extra}"
    for i, (g, tid) in enumerate(zip(items, want_ids)):
        w = api.single(tid)
        if g != w:
            at = next((k for k in range(min(len(g), len(w))) if g[k] != w[k]), min(len(g), len(w)))
            return (f"item {i} ({tid}): bytes differ from GET /api/tickets/{tid} at byte {at}: "
                    f"{g[max(0, at - 40):at + 40]!r} vs {w[max(0, at - 40):at + 40]!r}")
    tail_g = got[got.rfind(b"]") + 1:]
    tail_w = want[want.rfind(b"]") + 1:]
    return f"after the items: {tail_g!r} where the collection gives {tail_w!r}"


def check(api, model, path, pages):
    """Compares up to pages pages of path; returns the result line."""
    res = {"query": path, "pages": 0, "tickets": 0, "ok": True, "first_difference": None}
    try:
        q = parse(path)
    except ValueError as e:
        return dict(res, ok=False, first_difference=f"not compared: {e}")
    ref = model.reference(q, pages * q["limit"] + 1)  # one more: whether a next page exists
    limit, cursor, start = q["limit"], None, 0
    for page in range(pages):
        req = "/api/" + path + ("&cursor=" + urllib.parse.quote(cursor, safe="") if cursor else "")
        status, source, got = api.get(req)
        res["pages"] += 1
        rows = ref[start:start + limit]
        more = len(ref) > start + limit
        next_cursor = cursor_of(q, rows[-1]) if more and rows else None
        want = (b'{"items":[' + b",".join(api.single(t[ID]) for t in rows) + b'],"count":'
                + str(len(rows)).encode() + b',"limit":' + str(limit).encode() + b',"next_cursor":'
                + (json.dumps(next_cursor).encode() if next_cursor else b"null") + b"}")
        where = f"page {page + 1}: "
        if status != 200:
            return dict(res, ok=False, first_difference=where + f"HTTP {status}: {got[:200]!r}")
        if source != "index":
            return dict(res, ok=False, first_difference=where + f"X-Triage-Source {source!r}, not index")
        res["tickets"] += len(rows)
        if got != want:
            return dict(res, ok=False,
                        first_difference=where + first_difference(got, want, [t[ID] for t in rows], api))
        if not next_cursor:
            break
        cursor, start = next_cursor, start + limit
    return res


def main():
    args = sys.argv[1:]
    pages, only = 2, False
    while args and args[0].startswith("--"):
        if args[0] == "--only":
            only, args = True, args[1:]
        elif args[0] == "--pages" and len(args) > 1:
            pages, args = int(args[1]), args[2:]
        else:
            args = []
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    url, mongo_uri, db, paths = args[0], args[1], args[2], args[3:]
    if not only:
        paths = paths + [p for p in DEFAULT_QUERIES if p not in paths]
        # A search for a ticket's id (test_api_list_index.c's q=LI-0999):
        # the first stored ticket's, taken before the read so that the read
        # computes its matches with the other searches'.
        client = pymongo.MongoClient(mongo_uri)
        doc = client[db].tickets.find_one({}, {"id": 1})
        client.close()
        tid = doc.get("id") if doc else None
        if isinstance(tid, str) and tid and all(0x20 <= ord(c) <= 0x7E for c in tid):
            paths.append("tickets?q=" + urllib.parse.quote(tid, safe="") + "&limit=50")
    terms = set()
    for p in paths:
        try:
            text = parse(p)["text"]
        except ValueError:
            continue
        if text:
            terms.add(text)
    t0 = time.monotonic()
    try:
        model = read_model(mongo_uri, db, sorted(terms))
    except Inexact as e:
        print(json.dumps({"error": f"the reference cannot be exact: {e}"}), file=sys.stderr)
        return 2
    if not only:
        paths = paths + [p for p in data_queries(model) if p not in paths]
    read_s = time.monotonic() - t0
    api = Api(url)
    totals = {"queries": 0, "pages": 0, "tickets": 0, "differing": 0}
    t1 = time.monotonic()
    for p in paths:
        r = check(api, model, p, pages)
        print(json.dumps(r), flush=True)
        totals["queries"] += 1
        totals["pages"] += r["pages"]
        totals["tickets"] += r["tickets"]
        totals["differing"] += not r["ok"]
    totals.update(collection_tickets=len(model.tickets), read_s=round(read_s, 1),
                  compare_s=round(time.monotonic() - t1, 1), single_reads=len(api.singles))
    print(json.dumps(totals), file=sys.stderr, flush=True)
    return 1 if totals["differing"] else 0


if __name__ == "__main__":
    sys.exit(main())
