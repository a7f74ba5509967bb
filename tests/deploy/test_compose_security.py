#!/usr/bin/env python3
"""What the compose files expose, read as a user would deploy them (issue 14):

- no secret is committed: deploy/.env is not in git, .env.example leaves
  TRIAGE_ADMIN_KEY empty, and the compose files take the key only from .env
  (a ${TRIAGE_ADMIN_KEY:?...} reference, never a value);
- only the TLS proxy is published: the api, ingest and the classifier have no
  `ports`, the proxy terminates TLS in front of both, Prometheus is bound to
  127.0.0.1, and the services trust X-Forwarded-For from the proxy's fixed
  address only;
- /metrics is on the metrics listener, which compose never publishes;
- the classifier gets the remote provider's settings from .env (issue 16:
  only TRIAGE_LLM_PROVIDER reached it, so openai or gemini could not be
  switched on), the key as a reference, never a value.

    test_compose_security.py SOURCE_DIR
"""
import subprocess
import sys

import yaml

ROOT = sys.argv[1]
failures = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        failures.append(what)


tracked = subprocess.run(["git", "-C", ROOT, "ls-files", "deploy/.env"],
                         capture_output=True, text=True).stdout.strip()
check(tracked == "", "deploy/.env is not committed")
example = open(f"{ROOT}/deploy/.env.example", encoding="utf-8").read().splitlines()
keys = [l for l in example if l.startswith("TRIAGE_ADMIN_KEY=")]
check(keys == ["TRIAGE_ADMIN_KEY="], ".env.example leaves TRIAGE_ADMIN_KEY empty")

for name in ("docker-compose.yml", "docker-compose.cluster.yml"):
    doc = yaml.safe_load(open(f"{ROOT}/deploy/{name}", encoding="utf-8"))
    services = doc["services"]
    for svc in ("api", "ingest", "classifier"):
        check("ports" not in services[svc], f"{name}: {svc} publishes no port")
        env = services[svc].get("environment", {})
        check(env.get("TRIAGE_METRICS_HOST", "0.0.0.0") == "0.0.0.0" and
              not any("918" in str(p) for p in services[svc].get("ports", [])),
              f"{name}: {svc}'s metrics listener is not published")
    for svc in ("api", "ingest"):
        env = services[svc]["environment"]
        key = str(env.get("TRIAGE_ADMIN_KEY", ""))
        check(key.startswith("${TRIAGE_ADMIN_KEY:?"), f"{name}: {svc} takes the admin key from .env only")
        proxy_ip = services["proxy"]["networks"]["default"]["ipv4_address"]
        check(env.get("TRIAGE_TRUSTED_PROXIES") == proxy_ip,
              f"{name}: {svc} trusts X-Forwarded-For from the proxy ({proxy_ip}) only")
    cl_env = services["classifier"]["environment"]
    for var in ("TRIAGE_LLM_API_KEY", "TRIAGE_LLM_MODEL", "TRIAGE_LLM_URL", "TRIAGE_LLM_RPM",
                "TRIAGE_LLM_TPM", "TRIAGE_LLM_BATCH", "TRIAGE_FALLBACK_PROVIDER", "TRIAGE_CASCADE"):
        check(str(cl_env.get(var, "")).startswith("${" + var + ":-"),
              f"{name}: the classifier takes {var} from .env")
    proxy = services["proxy"]
    check(proxy["image"].startswith("caddy:"), f"{name}: the proxy is Caddy")
    published = [str(p).split(":")[-1] for p in proxy["ports"]]
    check(sorted(published) == ["443", "8443"], f"{name}: the proxy publishes 443 and 8443 only")
    for svc, spec in services.items():
        for p in spec.get("ports", []):
            p = str(p)
            check(svc == "proxy" or p.startswith("127.0.0.1:"),
                  f"{name}: {svc} publishes {p} on loopback only (or is the proxy)")

caddy = open(f"{ROOT}/deploy/caddy/Caddyfile", encoding="utf-8").read()
check("reverse_proxy api:8080" in caddy and "reverse_proxy ingest:8081" in caddy,
      "the Caddyfile proxies the api and ingest")
check(":443" in caddy and ":8443" in caddy, "the Caddyfile serves both over TLS (443, 8443)")
prom = yaml.safe_load(open(f"{ROOT}/deploy/prometheus/prometheus.yml", encoding="utf-8"))
targets = str(prom["scrape_configs"])
check("9180" in targets and "9181" in targets and "9182" in targets and "8080" not in targets,
      "Prometheus scrapes the metrics listeners, not the main ones")

print(f"{len(failures) == 0 and 'all' or len(failures)} {'passed' if not failures else 'failed'}")
sys.exit(1 if failures else 0)
