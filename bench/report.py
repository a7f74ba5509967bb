"""report.py WORK OUTDIR - turns bench/run's raw figures (WORK/raw.jsonl,
one line per run) into OUTDIR/results.json and OUTDIR/RESULTS.md: each figure
the median of its runs, with min and max, beside its ceiling or peer."""
import datetime
import json
import os
import platform
import statistics
import sys


def load(work):
    runs = {}
    with open(os.path.join(work, "raw.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["value"] is None:
                continue
            runs.setdefault((r["bench"], r["metric"]), {"unit": r["unit"], "runs": []})["runs"].append(r["value"])
    return runs


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/loadavg", encoding="utf-8") as f:
        load_avg = " ".join(f.read().split()[:3])
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 30)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem, "kernel": platform.release(),
            "load_average_at_end": load_avg}


def fmt(v, unit=""):
    if v is None:
        return "—"
    if unit == "kB":
        return f"{v / 1024:.1f} MB"
    if unit == "bytes":
        return f"{v / 1024:.0f} KB" if v > 4096 else f"{v:.0f} B"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if 0 < abs(v) < 1:
        return f"{v:.3f}"
    return f"{v:.2f}".rstrip("0").rstrip(".")


def main():
    work, out = sys.argv[1], sys.argv[2]
    runs = load(work)
    fig = {}
    for key, r in runs.items():
        vals = r["runs"]
        fig[key] = {"median": statistics.median_low(sorted(vals)) if len(vals) % 2 == 0 else statistics.median(vals),
                    "min": min(vals), "max": max(vals), "runs": vals, "unit": r["unit"]}

    def med(b, m):
        f = fig.get((b, m))
        return f["median"] if f else None

    def cell(b, m, unit=None):
        f = fig.get((b, m))
        if not f:
            return "—"
        u = unit if unit is not None else f["unit"]
        if len(f["runs"]) == 1:
            return fmt(f["median"], u)
        return f"{fmt(f['median'], u)} ({fmt(f['min'], u)}–{fmt(f['max'], u)})"

    rows = []

    def row(what, mine, other, ratio, target, verdict=None):
        rows.append((what, mine, other, ratio, target, verdict))

    def ratio(a, b):
        return a / b if a is not None and b else None

    def verdict(ok):
        return "—" if ok is None else ("met" if ok else "**not met**")

    # 1. classifier, built-in model
    m = med("model", "tickets_per_s")
    row("Built-in model (share/triage/model.bin) alone, one core (tickets/s)",
        cell("model", "tickets_per_s"), "—", "—", "—", verdict(None))
    for mode, target in (("nb", 20000), ("static", 2000), ("encoder", 20)):
        m = med(f"model_{mode}", "tickets_per_s")
        if m is None:
            continue
        row(f"Local model, {mode} mode, one core (tickets/s; per CPU-second); load time; RSS after loading it and 20 tickets",
            f"{cell(f'model_{mode}', 'tickets_per_s')}; {cell(f'model_{mode}', 'tickets_per_cpu_s')}",
            f"load {cell(f'model_{mode}', 'load_s')} s; RSS {cell(f'model_{mode}', 'rss_mb')} MB", "—",
            f"≥ {target:,}/s", verdict(m >= target))
    if med("model_encoder", "batch8_tickets_per_s") is not None:
        m = med("model_encoder", "batch8_tickets_per_s")
        row("Local model, encoder mode, one core, 8 tickets per pass (tickets/s)",
            cell("model_encoder", "batch8_tickets_per_s"), "—", "—", "≥ 20/s", verdict(m >= 20))
    if med("classifier_encoder", "tickets_per_s") is not None:
        m = med("classifier_encoder", "tickets_per_s")
        row("Classifier, encoder model, whole service on one core: classify requests → stored (tickets/s)",
            cell("classifier_encoder", "tickets_per_s"), "—", "—", "≥ 20/s", verdict(m >= 20))
    a, c = med("classifier_local", "tickets_per_s"), med("classifier_local", "db_ceiling_per_s")
    r = ratio(a, c)
    row("Classifier, built-in model: classify requests → stored (tickets/s) vs DB ceiling (plain libmongoc bulk update of the same documents)",
        cell("classifier_local", "tickets_per_s"), cell("classifier_local", "db_ceiling_per_s"),
        fmt(r), "≥ 0.70", verdict(None if r is None else r >= 0.7))
    a, c = med("classifier_fake", "tickets_per_s"), 160.0
    r = ratio(a, c)
    row("Classifier, fake LLM at 200 ms, concurrency 32 (tickets/s) vs concurrency ÷ latency",
        cell("classifier_fake", "tickets_per_s"), "160", fmt(r), "≥ 0.90", verdict(None if r is None else r >= 0.9))
    # 3. api
    a, c = med("api", "stats_rps"), med("api", "nginx_rps")
    r = ratio(a, c)
    row("GET /api/processing-stats (cached), 100 conns (req/s) vs nginx, static file of the same size",
        cell("api", "stats_rps"), cell("api", "nginx_rps"), fmt(r), "≥ 0.50", verdict(None if r is None else r >= 0.5))
    row("  … p99 latency", cell("api", "stats_p99_ms") + " ms", cell("api", "nginx_p99_ms") + " ms", "—", "—", "—")
    p = med("api", "tickets_p99_ms")
    # wrk reports a p99 of 0 when no request completed: that is no figure.
    if p is not None and p <= 0:
        p = None
    row("GET /api/tickets?limit=50 over 100,000 tickets, 100 conns (req/s)", cell("api", "tickets_rps"), "—", "—", "—", "—")
    row("  … p99 latency (ms)", cell("api", "tickets_p99_ms"), "—", "—", "< 50 ms", verdict(None if p is None else p < 50))
    # 4. end to end
    for label, what in (("100", "100/s"), ("1000", "1,000/s"), ("max", "as fast as published"),
                        ("sustained", "highest sustained (80 % of the unbounded rate)")):
        b = f"e2e_{label}"
        if (b, "per_s") not in fig:
            continue
        offered = f" (offered {fmt(med(b, 'offered_per_s'))}/s)" if (b, "offered_per_s") in fig else ""
        row(f"End to end, inbound topic → stored classification, {what}{offered}: throughput (tickets/s)",
            cell(b, "per_s"), "—", "—", "—", "—")
        row(f"  … latency p50 / p95 / p99 (ms)",
            f"{cell(b, 'p50_ms')} / {cell(b, 'p95_ms')} / {cell(b, 'p99_ms')}", "—", "—", "—", "—")
    # 5. scale-out
    one = med("scaleout_fake_1", "per_s")
    for w in (1, 2, 3):
        a = med(f"scaleout_fake_{w}", "per_s")
        r = ratio(a, one * w if one else None)
        row(f"Scale-out, fake LLM 200 ms: {w} worker(s) (tickets/s) vs linear (1 worker × {w})",
            cell(f"scaleout_fake_{w}", "per_s"), fmt(one * w if one else None), fmt(r), "≥ 0.80",
            verdict(None if r is None else r >= 0.8))
    one = med("scaleout_local_1", "per_s")
    for w in (1, 2, 3):
        a = med(f"scaleout_local_{w}", "per_s")
        r = ratio(a, one * w if one else None)
        row(f"Scale-out, built-in model: {w} worker(s) (tickets/s) vs linear",
            cell(f"scaleout_local_{w}", "per_s"), fmt(one * w if one else None), fmt(r), "—", "—")
    # 6. footprint
    for s in ("ingest", "classifier", "api"):
        v = med("footprint_idle", f"{s}_rss_kb")
        row(f"RSS idle, triage-{s}", cell("footprint_idle", f"{s}_rss_kb"), "—", "—", "< 30 MB",
            verdict(None if v is None else v < 30 * 1024))
    for s in ("ingest", "classifier"):
        row(f"RSS peak (VmHWM) at the unbounded end-to-end rate, triage-{s}", cell("footprint_peak", f"{s}_rss_kb"), "—", "—", "—", "—")
    for s in ("ingest", "classifier", "api"):
        row(f"Binary size, triage-{s}", cell("binary", f"{s}_bytes"), "—", "—", "—", "—")
        row(f"Start-up to /readyz = 200, triage-{s} (ms)", cell("startup", f"{s}_ms"), "—", "—", "—", "—")
    # 7. growth
    for size in ("10000", "100000", "1000000"):
        for (b, mname), f in sorted(fig.items()):
            if b == f"growth_{size}":
                target, ok = "—", "—"
                if size == "1000000" and mname.endswith(" p95"):
                    bound = 500 if "q=" in mname else 300
                    v = med(b, mname)
                    target, ok = f"≤ {bound} ms", verdict(None if v is None else v <= bound)
                row(f"{mname} at {int(size):,} tickets (ms, one client)", cell(b, mname), "—", "—", target, ok)
            if b == f"growth_{size}_c20":
                target, ok = "—", "—"
                if size == "1000000":
                    bound = 500 if "q=" in mname else 300
                    v = med(b, mname)
                    target, ok = f"≤ {bound} ms", verdict(None if v is None else v <= bound)
                row(f"{mname} at {int(size):,} tickets (ms, 20 clients at once)", cell(b, mname), "—", "—", target, ok)
        # bench/growth/compare_pages.py: the index's pages against the collection.
        b = f"compare_{size}"
        if (b, "queries") in fig:
            diff = med(b, "differing")
            row(f"Filtered lists, sorts and searches from the side tables at {int(size):,} tickets, checked byte for byte "
                "against a reference read from the collection (compare_pages.py): queries, pages, tickets compared; "
                "time (of which reading the collection)",
                f"{cell(b, 'queries')} queries, {cell(b, 'pages')} pages, {cell(b, 'tickets')} tickets; "
                f"{cell(b, 'total_s')} s ({cell(b, 'read_s')} s)",
                "—", "—", "0 queries differing",
                f"{fmt(diff)} differing, " + verdict(None if diff is None else diff == 0))
    # 8. peer
    a, c = med("peer", "triage_per_s"), med("peer", "peer_per_s")
    r = ratio(a, c)
    row("vs the Python peer: ingest → classify → update throughput (tickets/s), triage = ingest + classifier",
        cell("peer", "triage_per_s"), cell("peer", "peer_per_s"), fmt(r), "≥ 3", verdict(None if r is None else r >= 3))
    a, c = med("peer", "triage_rss_kb"), med("peer", "peer_rss_kb")
    r = ratio(c, a)
    row("vs the Python peer: peak RSS (triage = ingest + classifier); ratio = peer ÷ triage",
        cell("peer", "triage_rss_kb"), cell("peer", "peer_rss_kb"), fmt(r), "≥ 5", verdict(None if r is None else r >= 5))
    a, c = med("peer", "triage_anon_kb"), med("peer", "peer_anon_kb")
    if a is not None or c is not None:
        r = ratio(c, a)
        row("vs the Python peer: private memory after the run (RssAnon, without shared library pages); ratio = peer ÷ triage",
            cell("peer", "triage_anon_kb"), cell("peer", "peer_anon_kb"), fmt(r), "—", "—")
    # 8b. CPU per ticket
    a, c = med("cpu", "triage_ms_per_ticket"), med("cpu", "peer_ms_per_ticket")
    r = ratio(c, a)
    row("vs the Python peer: CPU per ticket from the inbound topic to the stored classification (ms; triage = ingest + "
        "classifier without the built-in model's own CPU, peer with inserts batched); ratio = peer ÷ triage",
        cell("cpu", "triage_ms_per_ticket"), cell("cpu", "peer_ms_per_ticket"), fmt(r), "≥ 5",
        verdict(None if r is None else r >= 5))
    for part in ("ingest", "classifier", "model"):
        row(f"  … of which triage-{part}" + (" (the built-in model, on the pool threads)" if part == "model" else "")
            + " (ms per ticket)", cell("cpu", f"{part}_ms_per_ticket"), "—", "—", "—", "—")
    a, c = med("cpu", "triage_idle_ms_per_s"), med("cpu", "peer_idle_ms_per_s")
    if a is not None or c is not None:
        row("  … CPU of the idle pipeline before the burst (ms per second; triage = ingest + classifier)",
            cell("cpu", "triage_idle_ms_per_s"), cell("cpu", "peer_idle_ms_per_s"), fmt(ratio(c, a)), "—", "—")
    # 9. dashboard
    v = med("dashboard", "first_load_ms")
    row("Dashboard first load over 100,000 tickets: navigation → data shown (ms)", cell("dashboard", "first_load_ms"),
        "—", "—", "< 1,000 ms", verdict(None if v is None else v < 1000))

    # 10. broker failover (tests/faults/run_faults.sh --kafka-nodes 3, scenario k)
    row("Broker failover, 3-node KRaft cluster: SIGKILL of the leader of every partition → first ticket classified after the stall (ms)",
        cell("broker_failover", "leader_kill_pause_ms"), "—", "—", "—", "—")
    row("  … SIGKILL of the active controller (leads no partition of the topics) → first ticket classified after the stall (ms)",
        cell("broker_failover", "controller_kill_pause_ms"), "—", "—", "—", "—")
    row("  … RSS of the three Kafka nodes together, after the flow", cell("broker_failover", "nodes_rss_kb"),
        "—", "—", "—", "—")

    ingest_lines = []
    ip = os.path.join(work, "ingest.jsonl")
    if os.path.exists(ip):
        with open(ip, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        ingest_lines.append(json.loads(line))
                    except ValueError:
                        pass

    notes = open(os.path.join(work, "notes.txt"), encoding="utf-8").read().splitlines()
    profile = ""
    pp = os.path.join(work, "profile.txt")
    if os.path.exists(pp):
        profile = open(pp, encoding="utf-8").read()
    explain = None
    ep = os.path.join(work, "explain.json")
    if os.path.exists(ep) and os.path.getsize(ep):
        explain = json.load(open(ep, encoding="utf-8"))

    mach = machine()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results = {"when": when, "machine": mach, "figures": [
        {"bench": b, "metric": m, **f} for (b, m), f in sorted(fig.items())],
        "ingest": ingest_lines, "notes": notes, "explain": explain, "profile": profile.splitlines()}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)

    md = ["# Benchmark results", "",
          f"Generated by `make bench` (bench/run) on {when}. Machine: {mach['cpu']}, {mach['cores']} cores, "
          f"{mach['memory_gb']} GB, Linux {mach['kernel']}; load average at the end {mach['load_average_at_end']}. "
          "Kafka 4.1 (single KRaft node) and FerretDB 1.24 (PostgreSQL 15 backend, decision 0007) on loopback.", "",
          "Each figure is the median of its runs, with (min–max); every ceiling and peer was measured in the same run. "
          "The raw runs are in [results.json](results.json).", ""]
    if os.environ.get("BENCH_LOADED_NOTE"):
        md += [f"> **{os.environ['BENCH_LOADED_NOTE']}**", ""]
    md += ["| What | triage | Ceiling / peer | Ratio | Target | |", "|---|---|---|---|---|---|"]
    for what, mine, other, rt, target, vd in rows:
        md.append(f"| {what} | {mine} | {other} | {rt if isinstance(rt, str) else fmt(rt)} | {target} | {vd or '—'} |")
    md.append("")
    if ingest_lines:
        md += ["## Ingest (bench/ingest/run)", "", "```"] + [json.dumps(l) for l in ingest_lines] + ["```", ""]
    if profile:
        md += ["## CPU profile of the classifier (built-in model)", "",
               "Top functions by their own cost (Ir = instructions), from the profile run:", "", "```", profile.rstrip(), "```", ""]
    if explain:
        md += ["## Query plans (explain) at 100,000 tickets", "",
               f"Indexes on `tickets`: {', '.join(explain.get('indexes', []))}.", "",
               "| Filter (sorted by created_at desc, limit 50) | Plan as the server reports it | filterPushdown | sortPushdown |",
               "|---|---|---|---|"]
        for name, p in explain["plans"].items():
            md.append(f"| {name} | `{json.dumps(p['plan'])[:160]}` | {p['filterPushdown']} | {p['sortPushdown']} |")
        md.append("")
    md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    closing = os.path.join(out, "closing.md")
    if os.path.exists(closing):
        md += [open(closing, encoding="utf-8").read()]
    with open(os.path.join(out, "RESULTS.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
