#!/usr/bin/env python3
"""Compose without a Docker engine (issue 16): both compose files are valid
against the compose-spec JSON schema (check-jsonschema's vendored copy, from
the contract venv that deploy/local/bootstrap installs), and every setting of
deploy/.env.example reaches the containers that read it.

The trace: for each TRIAGE_* variable of .env.example and each of the three
services whose `--help` lists it (the services' own configuration tables),
the service's environment in docker-compose.yml passes it on from .env
(`${NAME...}`). The other variables of .env.example (IMAGE, PUBLIC_HOST,
ports) must each be used somewhere in the file. And the classifier's
provider settings (TRIAGE_LLM_*, the fallback, the cascade) must all be in
.env.example, so OpenAI or Gemini can be switched on from there.

    test_compose_env.py PROJECT_DIR BIN_DIR CONTRACT_VENV
"""
import re
import subprocess
import sys

import yaml

SERVICES = ("ingest", "classifier", "api")


def env_example_keys(path):
    keys = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            keys.append(line.split("=", 1)[0])
    return keys


def settings_of(bin_dir, service):
    """The TRIAGE_* names triage-<service> --help lists."""
    out = subprocess.run([f"{bin_dir}/triage-{service}", "--help"], capture_output=True,
                         text=True, check=False)
    return set(re.findall(r"\bTRIAGE_[A-Z0-9_]+\b", out.stdout + out.stderr))


def main():
    project, bin_dir, venv = sys.argv[1:4]
    failures = []

    for f in ("docker-compose.yml", "docker-compose.cluster.yml"):
        r = subprocess.run([f"{venv}/bin/check-jsonschema", "--builtin-schema",
                            "vendor.compose-spec", f"{project}/deploy/{f}"],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            failures.append(f"{f} is not valid compose-spec:\n{r.stdout}{r.stderr}")

    text = open(f"{project}/deploy/docker-compose.yml", encoding="utf-8").read()
    compose = yaml.safe_load(text)
    keys = env_example_keys(f"{project}/deploy/.env.example")
    if "TRIAGE_MONGO_DB" in keys:
        failures.append(".env.example sets TRIAGE_MONGO_DB: the URI's database should decide")

    traced = 0
    for service in SERVICES:
        known = settings_of(bin_dir, service)
        if not known:
            failures.append(f"triage-{service} --help lists no setting")
            continue
        env = compose["services"][service].get("environment", {})
        for key in keys:
            if not key.startswith("TRIAGE_") or key not in known:
                continue
            value = str(env.get(key, ""))
            if not re.search(r"\$\{" + key + r"\b", value):
                failures.append(f"{key} (a setting of triage-{service}) is not passed from .env "
                                f"to the {service} container (its value there: {value!r})")
            else:
                traced += 1
    for key in keys:
        if not key.startswith("TRIAGE_") and "${" + key not in text:
            failures.append(f"{key} of .env.example is used nowhere in docker-compose.yml")

    provider = {k for k in settings_of(bin_dir, "classifier")
                if k.startswith("TRIAGE_LLM_") or k in ("TRIAGE_FALLBACK_PROVIDER",
                                                         "TRIAGE_CASCADE", "TRIAGE_CASCADE_BELOW")}
    missing = sorted(provider - set(keys))
    if missing:
        failures.append("provider settings missing from .env.example: " + ", ".join(missing))

    if failures:
        print("\n".join(failures))
        return 1
    print(f"ok: both compose files valid; {traced} settings traced from .env to the containers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
