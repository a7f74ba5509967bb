#!/usr/bin/env python3
"""Generates triage's labelled training corpus and the unlabelled demo sample.

    python3 services/classifier/corpus/generate.py

writes
    services/classifier/corpus/labelled.ndjson   (labelled, for triagectl train/eval)
    deploy/local/samples/tickets.csv            (unlabelled demo sample, part 1)
    deploy/local/samples/tickets.json           (unlabelled demo sample, part 2)

Everything is seeded, so the output is identical on every run; commit it.

How a ticket is built: the priority is drawn first, then a sentiment that is
plausible for it, then one to three topic tags. The body is assembled from
hand-written fragments: an opener in the customer's voice, one "situation"
fragment per topic whose severity matches the priority (a question or request
for P2, something broken with a workaround or blocking one team for P1, a
production outage, data loss or security exposure for P0), optional detail
(error text, product names, dates), a closer in the same voice, and a
signature. Slots ({conn}, {err}, ...) are filled from small vocabularies, and a
share of tickets get typos, lower-case-only or terse rewrites, so no two
tickets share a template instance.

Label rules (what a support lead would do):
  priority  P0 (High)   production outage, data loss, security exposure
            P1 (Medium) broken but with a workaround, or blocking one team
            P2 (Low)    questions, documentation, feature requests
  sentiment the customer's voice: Angry (hostile, escalating), Frustrated
            (worn down, repeated problems), Curious (exploring, asking why/how),
            Neutral (factual report)
"""

import csv
import json
import os
import random
import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

TOPICS = ["How-to", "Product", "Connector", "Lineage", "API/SDK", "SSO",
          "Glossary", "Best practices", "Sensitive data"]
SENTIMENTS = ["Frustrated", "Curious", "Angry", "Neutral"]
PRIORITIES = ["P0 (High)", "P1 (Medium)", "P2 (Low)"]

# ---------------------------------------------------------------------------
# Vocabularies for slots.
V = {
    "conn": ["Snowflake", "BigQuery", "Databricks", "dbt Cloud", "dbt Core", "Tableau",
             "Power BI", "Looker", "Redshift", "PostgreSQL", "MySQL", "Oracle", "SQL Server",
             "Airflow", "Fivetran", "Kafka", "S3", "Azure Synapse", "Teradata", "Glue"],
    "warehouse": ["Snowflake", "BigQuery", "Databricks", "Redshift", "Synapse"],
    "bi": ["Tableau", "Power BI", "Looker", "Mode", "Sigma"],
    "idp": ["Okta", "Azure AD", "Entra ID", "OneLogin", "Ping Identity", "Google Workspace",
            "ADFS", "JumpCloud"],
    "sdk": ["Python SDK", "Java SDK", "REST API", "GraphQL endpoint", "Python client",
            "bulk API", "search API"],
    "sdkver": ["1.4.2", "2.0.0", "2.1.3", "0.9.8", "3.2.0", "2.3.1", "1.12.0"],
    "schema": ["analytics", "finance_mart", "raw_events", "sales", "marketing_ops",
               "hr_core", "prod_dwh", "staging", "customer_360", "billing"],
    "table": ["orders", "customers", "fct_revenue", "dim_accounts", "payments", "sessions",
              "invoices", "employees", "churn_scores", "events_daily", "leads", "subscriptions"],
    "column": ["email", "ssn", "phone_number", "date_of_birth", "credit_card", "iban",
               "customer_name", "home_address", "salary", "passport_no", "ip_address"],
    "term": ["Active Customer", "Net Revenue", "Churn", "ARR", "Gross Margin", "Qualified Lead",
             "Booking", "MAU", "Customer Lifetime Value", "Order"],
    "n": ["3", "12", "40", "200", "1,500", "80", "7", "25", "600", "10k"],
    "hours": ["2 hours", "45 minutes", "since this morning", "since Monday", "three days",
              "all weekend", "6 hours", "since yesterday"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "yesterday", "last night",
            "this morning", "over the weekend"],
    "date": ["2026-11-02", "Nov 14", "14/11", "2026-10-30", "Oct 28th", "11/20", "last Tuesday",
             "2026-11-21"],
    "http": ["500 Internal Server Error", "502 Bad Gateway", "503 Service Unavailable",
             "504 Gateway Timeout", "429 Too Many Requests", "401 Unauthorized",
             "403 Forbidden", "400 Bad Request"],
    "team": ["finance", "marketing analytics", "the data platform team", "our BI team",
             "risk", "the EMEA sales ops team", "compliance", "data engineering"],
    "role": ["data steward", "analyst", "admin", "viewer", "owner", "editor"],
    "env": ["production", "prod", "our prod tenant", "the production workspace"],
    "ver": ["4.12", "4.13", "4.13.1", "5.0", "5.0.2", "last week's release"],
}

# ---------------------------------------------------------------------------
# Situation fragments: TOPIC -> severity -> list of (subject, body) templates.
# Severity: "q" (P2 question/request), "w" (P1 broken with workaround or one
# team blocked), "x" (P0 outage, data loss, security exposure).
S = {
    "How-to": {
        "q": [
            ("How do I bulk-assign owners to assets?",
             "How do I assign an owner to a few hundred tables at once? Clicking through {n} assets one by one is not realistic. Is there a bulk edit somewhere I'm missing?"),
            ("Steps to add a custom metadata field",
             "What are the steps to add a custom metadata field (e.g. 'cost center') to datasets? I looked in Settings > Metadata but could not find where to define the type."),
            ("How to export search results to CSV",
             "Is there a way to export the list of assets from a search to CSV? We want to share the list of {schema} tables with auditors."),
            ("Setting up notifications for schema changes",
             "How can I get an email or Slack message when a column is dropped from a table in {schema}? Couldn't find it in the docs."),
            ("Can I schedule a metadata refresh?",
             "Can the metadata crawl for {conn} be scheduled nightly instead of every hour? Where is that setting?"),
            ("how to invite external contractors",
             "what's the right way to invite external contractors with read-only access to a single domain? step by step would help"),
            ("Moving assets between domains",
             "How do I move a set of dashboards from the Marketing domain to the Sales domain without losing their descriptions?"),
        ],
        "w": [
            ("Bulk owner assignment wizard fails halfway",
             "I'm following the docs for bulk owner assignment and the wizard stops at step 3 with 'Something went wrong'. For now I'm assigning owners one table at a time, which works but is slow."),
            ("Documented steps for archiving assets don't match UI",
             "The how-to article for archiving stale assets mentions an 'Archive' button that doesn't exist in {ver}. Our {team} team can't finish their cleanup. We worked around it by tagging them 'deprecated' for now."),
            ("Can't figure out how to restore a deleted description",
             "Someone overwrote descriptions on {n} columns in {schema}.{table}. How do I restore the previous version? The history tab shows the change but no revert option. We are retyping them by hand."),
        ],
        "x": [
            ("How do we roll back the import that broke prod?",
             "How do we roll back yesterday's metadata import? It overwrote certifications across {env} and every dashboard now shows 'uncertified'. Executives are looking at this right now. We need exact steps immediately."),
            ("How do I revoke all API tokens NOW",
             "How do I revoke every API token for our tenant at once? A token was committed to a public GitHub repo. We need the steps right now, the docs only show revoking one at a time."),
        ],
    },
    "Product": {
        "q": [
            ("Feature request: dark mode",
             "Feature request: a dark mode for the catalog UI. A lot of our analysts work late and have asked for it."),
            ("Question about asset page layout",
             "Is it possible to customise which tabs show up on the asset page? We'd like Lineage first and Queries second."),
            ("Does the new search support filters on owner?",
             "I saw the release notes for {ver}. Does the new search support filtering by owner and by certification status together?"),
            ("Request: saved views for the home page",
             "It would be great to pin saved searches to the home page so each team sees their own assets first."),
            ("What does the popularity score mean?",
             "What exactly goes into the popularity score shown on table pages? Query count? Unique users? Over what window?"),
            ("Roadmap question - data quality tab",
             "Is a data quality tab on the roadmap? We're evaluating whether to surface our Great Expectations results in the catalog."),
        ],
        "w": [
            ("Search results missing recently added tables",
             "Search doesn't return tables added in the last {hours}, although they show up when I browse {schema} directly. Browsing works as a workaround but people rely on search."),
            ("Asset page very slow to load",
             "Asset pages take 20-30 seconds to load for tables with many columns, like {schema}.{table}. Smaller tables are fine. It is slowing the {team} team down a lot."),
            ("Comments not saving on dashboards",
             "Comments on {bi} dashboards disappear after refreshing the page. Comments on tables still work, so we're putting notes there in the meantime."),
            ("UI broken after {ver} upgrade",
             "Since the {ver} upgrade the filter sidebar overlaps the results list in Firefox. Chrome is fine so we told people to switch, but it's annoying."),
            ("Bulk edit times out",
             "Bulk editing more than ~50 assets times out with 'Request failed'. Doing it in batches of 40 works."),
        ],
        "x": [
            ("Catalog is down for everyone",
             "The catalog is completely down for our whole company: every page returns {http}. Nobody can log in or search. This has been going on for {hours}."),
            ("All our descriptions disappeared",
             "Every table description in {env} is gone. Thousands of hand-written descriptions, just empty. This is data loss. We need them restored from backup immediately."),
            ("Outage - catalog returns blank pages",
             "Production outage: the catalog loads a blank white page for all users since {day}. Status page says all green, which it clearly isn't."),
        ],
    },
    "Connector": {
        "q": [
            ("Is there a connector for {conn}?",
             "Do you support {conn} as a source, and if yes which metadata does it pull (tables, views, query history)?"),
            ("Which permissions does the {conn} connector need?",
             "Which grants does the service account for the {conn} connector need? Our DBA wants the minimum set before approving it."),
            ("Connector crawl frequency question",
             "How often does the {conn} connector crawl by default, and can we exclude schemas like {schema}?"),
            ("Private link support for {warehouse}",
             "Can the {warehouse} connector go through PrivateLink instead of the public endpoint? Our security team is asking."),
        ],
        "w": [
            ("{conn} crawler failing since {day}",
             "The {conn} connector has been failing since {day} with `{err}`. We re-ran it manually from the UI and it got through, but the scheduled run keeps failing."),
            ("{conn} sync missing views",
             "The {conn} sync picks up tables but skips every view in {schema}. Only the {team} team uses those views, they're blocked; everything else is fine."),
            ("Timeout on large {warehouse} schema",
             "Crawling {schema} in {warehouse} times out after 60 minutes (`{err}`). We split the crawl into two schema filters as a workaround."),
            ("{bi} connector duplicates dashboards",
             "After the last {bi} sync every dashboard appears twice. We hid the duplicates with a filter for now but it confuses users."),
        ],
        "x": [
            ("{warehouse} connector down - no metadata for {hours}",
             "Our {warehouse} connector in {env} has been down for {hours} with `{err}`. No new tables are being ingested and our downstream access-request workflow depends on it. Production is impacted."),
            ("Connector deleted all our {conn} assets",
             "The {conn} connector ran at {date} and removed every asset from the catalog: {n} tables, their owners, tags and descriptions. This is data loss in production."),
            ("URGENT {conn} ingestion broken for all workspaces",
             "Ingestion from {conn} is broken for all of our workspaces since {day}: `{err}`. Nothing has been updated and reporting for the board meeting relies on this."),
        ],
    },
    "Lineage": {
        "q": [
            ("Column-level lineage for {bi}?",
             "Does column-level lineage extend into {bi} dashboards, or does it stop at the warehouse?"),
            ("How is lineage computed from dbt?",
             "How is lineage built for dbt models: from manifest.json or from query logs? We're trying to understand why some edges appear."),
            ("Can we add manual lineage edges?",
             "Is it possible to add a lineage edge by hand for a process you don't parse, like a Python job that writes {schema}.{table}?"),
            ("Lineage depth limit",
             "Is there a limit on how many hops the lineage graph shows upstream? I'd like to see the full path back to the raw sources."),
        ],
        "w": [
            ("Lineage graph missing edges for {table}",
             "The lineage graph for {schema}.{table} is missing the upstream edge from raw_events. The SQL is a plain INSERT ... SELECT so it should be parsed. Impact analysis for that table is wrong but we can trace it manually."),
            ("Column lineage wrong after dbt rename",
             "After renaming a dbt model, column-level lineage still points to the old name and shows both. We deleted the stale node by hand to work around it."),
            ("Lineage view won't render for large graphs",
             "The lineage view spins forever for {schema}.{table} (about {n} downstream nodes). Zooming into one level at a time works."),
        ],
        "x": [
            ("Lineage gone from production catalog",
             "All lineage disappeared from {env} after last night's update. Our change-management process requires impact analysis before every deploy, so all deployments are frozen right now."),
            ("Lineage showing other tenant's tables",
             "The lineage graph for {schema}.{table} shows tables that are not ours, from what looks like another customer's warehouse. This is a data exposure issue."),
        ],
    },
    "API/SDK": {
        "q": [
            ("Pagination in the {sdk}",
             "How does pagination work in the {sdk}? I see a cursor field in the response but the docs only mention offset."),
            ("Is there an endpoint to create glossary terms?",
             "Is there an API endpoint to create glossary terms in bulk, or is it UI only?"),
            ("Rate limits for the REST API",
             "What are the rate limits on the REST API per token? We're planning a nightly sync of about {n} assets."),
            ("Python SDK support for async",
             "Does the Python SDK ({sdkver}) support asyncio, or should we wrap it in threads?"),
            ("Example for updating custom properties",
             "Could you share an example of updating a custom property through the {sdk}? The reference shows the payload but not the endpoint."),
        ],
        "w": [
            ("{sdk} {sdkver} throws on list_assets",
             "After upgrading to {sdkver}, list_assets() throws `KeyError: 'nextCursor'`. Pinning the previous version works, but we'd like to upgrade."),
            ("API returns {http} intermittently",
             "About 1 in 10 calls to /api/v2/assets return {http}. Retrying works, so our script still finishes, but it's slow."),
            ("Java SDK dependency conflict",
             "The Java SDK {sdkver} pulls an old jackson-databind that conflicts with our Spring app. We shaded it as a workaround."),
            ("Search API ignores filter param",
             "The search API ignores `filter=owner:me` and returns everything. We filter client-side for now; it blocks our internal portal team a bit."),
        ],
        "x": [
            ("API down - all calls {http}",
             "Every call to the REST API has returned {http} for {hours}. Our production pipelines register datasets through the API on every run and they are all failing."),
            ("SDK deleted assets instead of updating",
             "We ran update_assets() from the {sdk} {sdkver} and it deleted {n} assets in {env} instead of updating their descriptions. Data loss, we need them restored."),
            ("API token visible in response logs",
             "Your API error responses include the full bearer token in the `debug` field, and those land in our shared log platform. That is a credential exposure in production."),
        ],
    },
    "SSO": {
        "q": [
            ("SCIM provisioning with {idp}",
             "Do you support SCIM user provisioning with {idp}, and can groups map to catalog roles automatically?"),
            ("SAML attribute for roles",
             "Which SAML attribute should we send to map users to the {role} role? The docs list 'groups' but our {idp} sends 'memberOf'."),
            ("Multiple IdPs?",
             "Can we configure two identity providers, {idp} for employees and another one for contractors?"),
            ("Session timeout setting",
             "Where can admins change the session timeout when signing in through SSO?"),
        ],
        "w": [
            ("Some users can't log in via {idp}",
             "About {n} users get 'SAML response not valid' when logging in through {idp}. Everyone else is fine. They can still use the password login we kept enabled, but that's against our policy."),
            ("SCIM not removing deactivated users",
             "Users deactivated in {idp} still appear as active in the catalog. We remove them manually each week."),
            ("SSO redirect loop in Safari",
             "Logging in with {idp} loops back to the login page in Safari. Chrome works. Our Mac-heavy {team} team is affected."),
            ("Group mapping not applied",
             "The {idp} group 'data-stewards' is not mapped to the {role} role after login; we assign roles by hand until it's fixed."),
        ],
        "x": [
            ("Nobody can log in - SSO broken",
             "SSO through {idp} is failing for every user since {day} with `{err}`. The entire company is locked out of the catalog. Production outage."),
            ("Deprovisioned users still have access",
             "Employees we offboarded in {idp} can still log in through SSO and see {schema} data. That is a security exposure, we need this fixed right away."),
            ("SAML certificate expired, everyone locked out",
             "Your SAML signing certificate seems to have expired on {date}; {idp} rejects every assertion and nobody can log in."),
        ],
    },
    "Glossary": {
        "q": [
            ("Linking glossary terms to columns",
             "Can one glossary term like '{term}' be linked to columns in several tables, and does it show on the column page?"),
            ("Glossary approval workflow",
             "Is there an approval workflow for new glossary terms, so a {role} has to sign off before a term is published?"),
            ("Import glossary from spreadsheet",
             "What format does the glossary CSV import expect? We have about {n} terms in a spreadsheet."),
            ("Term hierarchy question",
             "Can glossary terms have parent/child relationships, e.g. '{term}' under 'Finance'?"),
        ],
        "w": [
            ("Glossary import skips rows",
             "The glossary CSV import silently skipped {n} rows. No error shown. We're adding them by hand."),
            ("Term links disappear after re-crawl",
             "Links between the term '{term}' and columns vanish after each {conn} re-crawl. We re-link them afterwards, it's tedious."),
            ("Cannot edit term '{term}'",
             "Editing the definition of '{term}' fails with 'Conflict' for our stewards. Admins can still edit it, so we route changes through them."),
        ],
        "x": [
            ("Entire glossary deleted",
             "Our whole business glossary ({n} terms with definitions and owners) is gone since {day}. This is data loss; regulators rely on these definitions for our reporting."),
            ("Glossary shows wrong definitions in prod",
             "Glossary terms in {env} show definitions from another workspace. Finance reports '{term}' based on these definitions in a filing due today."),
        ],
    },
    "Best practices": {
        "q": [
            ("Recommended way to structure domains",
             "What's the recommended way to structure domains for a company with {n} data teams? By business unit or by data product?"),
            ("Best practice for ownership",
             "Any best practices for assigning owners vs stewards? We keep arguing about whether a team or a person should own a table."),
            ("Tagging strategy advice",
             "Do you have guidance on a tagging strategy? Our tags have grown to hundreds and half of them overlap."),
            ("How do other customers roll out the catalog?",
             "We're about to roll out to {n} analysts. Any best practices from other customers on adoption, certification and training?"),
            ("Certification guidelines",
             "Is there a recommended process for certifying datasets, like who certifies and how often to review?"),
        ],
        "w": [
            ("Our certification process doesn't scale",
             "We followed your best-practice guide on certification but with {n} stewards the review queue grows every week. Blocking our {team} team's quarterly review. Could someone advise?"),
            ("Recommended crawl setup causes load",
             "We set up crawls as recommended in the best-practices doc and they put heavy load on {warehouse} during business hours. We moved them to night manually."),
        ],
        "x": [
            ("Recommended config exposed PII",
             "We applied the 'recommended' visibility settings from your best-practices guide and it made {schema}.{table} with {column} visible to every user in {env}. This is a security exposure."),
        ],
    },
    "Sensitive data": {
        "q": [
            ("How does PII auto-classification work?",
             "How does automatic PII tagging decide a column is sensitive? Pattern matching on names or sampling values?"),
            ("Masking policies from the catalog?",
             "Can we push masking policies to {warehouse} from the sensitive-data tags, or is it display-only?"),
            ("Custom classifiers for sensitive data",
             "Can we define a custom sensitive-data classifier for our internal employee IDs?"),
            ("GDPR report question",
             "Is there a report listing every column tagged as personal data, for our GDPR records of processing?"),
        ],
        "w": [
            ("PII scanner misses {column} columns",
             "The PII scanner didn't tag {schema}.{table}.{column} as sensitive. We tagged it by hand, but we're worried about what else it misses."),
            ("False positives in sensitive data tags",
             "The scanner flags {n} columns named 'id' as credit card numbers. We clear them by hand but the noise is hiding real findings."),
            ("Sensitive tags lost on re-crawl",
             "Manual 'Sensitive' tags on {column} columns are removed after each {conn} re-crawl. We re-apply them with a script for now."),
        ],
        "x": [
            ("Sample values show raw {column} data",
             "The column preview shows raw {column} values from {schema}.{table} to every viewer, including contractors. This is exposure of personal data in production. Please disable previews immediately."),
            ("Masking stopped working - PII visible",
             "Since {day} the masking on sensitive-data columns is not applied and {column} values are visible in {env}. This is a security incident for us."),
            ("PII tags wiped, compliance exposed",
             "All sensitive-data classifications were wiped in {env} ({n} columns). Access controls rely on those tags so {column} data is currently unprotected."),
        ],
    },
}

ERRORS = [
    "java.net.SocketTimeoutException: Read timed out",
    "ERROR 390144 (08004): JWT token is invalid",
    "403 Forbidden: Access Denied for user 'catalog_svc'",
    "google.api_core.exceptions.PermissionDenied: 403 Access Denied: BigQuery",
    "SSL: CERTIFICATE_VERIFY_FAILED",
    "Connection reset by peer",
    "OAuth token expired (code 401)",
    "Invalid SAML response: signature validation failed",
    "org.postgresql.util.PSQLException: FATAL: too many connections",
    "Query exceeded resource limits",
    "ERR_CRAWLER_TIMEOUT after 3600s",
    "com.databricks.sql.ErrorCode: TEMPORARILY_UNAVAILABLE",
    "KeyError: 'nextCursor'",
    "unexpected EOF while reading manifest.json",
]

# ---------------------------------------------------------------------------
# Voices.
OPENERS = {
    "Angry": [
        "This is completely unacceptable.", "I am furious.", "Unbelievable.",
        "This is the THIRD time this month.", "What is going on over there?!",
        "We pay you a six-figure contract for THIS?", "Honestly, this is a disgrace.",
        "I've had it with this product.", "Are you kidding me?", "Absolutely ridiculous.",
        "I want an explanation, now.", "Nobody on your side seems to care.",
    ],
    "Frustrated": [
        "Still having issues here.", "Sigh, again.", "We've spent hours on this already.",
        "This keeps happening and it's wearing the team down.", "Second ticket about this, unfortunately.",
        "I'm getting pretty tired of workarounds.", "Not great, this is happening again.",
        "Really struggling with this one.", "We've tried everything in the docs.",
        "Hate to open another ticket but", "This has been dragging on for a while.",
    ],
    "Curious": [
        "Hi there! Quick question.", "Hello, I was wondering about something.",
        "Hi team, out of curiosity:", "Hey! Exploring the catalog and had a question.",
        "Hi, I'd love to understand this better.", "Hello! New user here, curious about this.",
        "Hi all, something I've been wondering about.", "Good morning, I'm trying to learn how this works.",
        "Hey folks, interesting one for you.", "Hi! Trying to get my head around this.",
    ],
    "Neutral": [
        "Hello,", "Hi,", "Hi team,", "Good afternoon,", "Reporting the following.",
        "Please see details below.", "Hello support,", "FYI.", "Hi support team,", "",
    ],
}

CLOSERS = {
    "Angry": [
        "Fix this today or I'm escalating to your CEO.", "I expect a call within the hour.",
        "We are seriously reconsidering our renewal.", "This is not what we signed up for!!",
        "Get someone competent on this immediately.", "If this isn't resolved we will be talking to our lawyers.",
        "Do NOT send me another canned response.", "Escalate this to your VP of Engineering. Now.",
        "I'm done waiting.", "Worst vendor experience I've had in years.",
    ],
    "Frustrated": [
        "Can someone please actually look at this?", "Would really appreciate a real fix this time.",
        "We're losing a lot of time on this.", "Please help, we're running out of ideas.",
        "Any update would be appreciated, it's been a while.", "Hoping this doesn't take another week.",
        "Kind of disappointed, to be honest.", "Not sure what else to try at this point.",
        "This is getting old.", "Please don't close this until it's really fixed.",
    ],
    "Curious": [
        "Thanks in advance, really enjoying the product so far!", "Would love to hear how others do it.",
        "Any pointers to docs would be great, thanks!", "Curious to hear your thoughts!",
        "Thanks! Just trying to understand the options.", "No rush, just interested.",
        "Happy to hop on a call if easier. Thanks!", "Appreciate any insight!",
        "Thanks so much, excited to dig in.", "Is this documented anywhere? Would love to read more.",
    ],
    "Neutral": [
        "Thanks.", "Regards.", "Please advise.", "Let me know if you need logs.",
        "Thank you.", "Logs attached.", "Best,", "Ticket for tracking.", "", "Thanks, let us know.",
    ],
}

SUBJECT_PREFIX = {
    "Angry": ["URGENT: ", "UNACCEPTABLE - ", "ESCALATION: ", "", "", "!!! ", "Again?! "],
    "Frustrated": ["Still broken: ", "Again: ", "Re: ", "", "", "Follow-up: ", "Re: Re: "],
    "Curious": ["Question: ", "Quick question - ", "", "", "Wondering: ", "Q: "],
    "Neutral": ["", "", "", "Re: ", "FW: ", "[Support] "],
}

P0_EXTRA = [
    "Impact: all users in production.", "This is a Sev1 for us.", "Our on-call is engaged.",
    "Business impact is severe.", "Incident ref INC-{n}{n}.", "Started around {date} 09:40 UTC.",
]
P1_EXTRA = [
    "We have a workaround for now.", "Not a full outage, but annoying.",
    "Only one team is blocked.", "Workaround in place, please look when you can.",
    "Medium impact.", "",
]
P2_EXTRA = ["No urgency.", "Whenever you get a chance.", "", "Low priority.", "Not blocking anything.", ""]

# Factual lines a neutral reporter adds instead of feelings.
NEUTRAL_FACTS = [
    "Environment: {env}, version {ver}.", "Reproducible: yes.", "Steps to reproduce are listed below.",
    "Account: acme-{schema}.", "Reference: CASE-{n}.", "Observed on {date}.",
    "Expected: the page loads. Actual: see above.", "Details follow.", "For your records.",
    "Reporting on behalf of the {team} team.",
]

DETAIL = [
    "We're on version {ver}.", "Tenant: acme-{schema}.", "Started on {date}.",
    "Error in the browser console: `{err}`.", "Affects the {team} team mostly.",
    "Workspace id ws-{n}.", "Screenshot attached.", "Happens in both Chrome and Edge.",
    "First noticed {day}.", "We use {conn} and {bi}.",
]

NAMES = ["Priya", "Tom", "Ana", "Jürgen", "Mei", "Oluwaseun", "Chloé", "Raj", "Sven", "Lucía",
         "Kenji", "Fatima", "Marek", "Ingrid", "Diego", "Aisha", "Björn", "Nadia", "Paul", "Yuki"]
TITLES = ["Data Engineer", "Head of Data", "BI Analyst", "VP Analytics", "Platform Admin",
          "Data Steward", "CDO", "Analytics Engineer", "IT Admin", "Governance Lead"]
COMPANIES = ["Northwind", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Acme Retail",
             "Helios Bank", "Blue Yonder Foods", "Contoso", "Vandelay Imports"]


def fill(rng, text):
    """Replaces each {slot} with a random value from V (each occurrence drawn afresh)."""
    out = []
    i = 0
    while i < len(text):
        j = text.find("{", i)
        if j < 0:
            out.append(text[i:])
            break
        k = text.find("}", j)
        key = text[j + 1:k]
        out.append(text[i:j])
        if key == "err":
            out.append(rng.choice(ERRORS))
        elif key in V:
            out.append(rng.choice(V[key]))
        else:
            out.append(text[j:k + 1])
        i = k + 1
    return "".join(out)


def typo(rng, text, rate):
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 4 and rng.random() < rate:
            p = rng.randrange(1, len(w) - 2)
            kind = rng.randrange(3)
            if kind == 0:
                w = w[:p] + w[p + 1] + w[p] + w[p + 2:]
            elif kind == 1:
                w = w[:p] + w[p + 1:]
            else:
                w = w[:p] + w[p] + w[p:]
            words[i] = w
    return " ".join(words)


def pick_sentiment(rng, prio):
    weights = {
        "P0 (High)": [30, 5, 45, 20],
        "P1 (Medium)": [40, 15, 15, 30],
        "P2 (Low)": [12, 50, 5, 33],
    }[prio]
    return rng.choices(SENTIMENTS, weights=weights)[0]


def pick_topics(rng, prio):
    sev = {"P0 (High)": "x", "P1 (Medium)": "w", "P2 (Low)": "q"}[prio]
    # Best practices and How-to are rarely the headline of an outage.
    weights = [1.0 if (sev != "x" or t not in ("Best practices", "How-to")) else 0.35 for t in TOPICS]
    if sev == "q":
        weights = [1.3 if t in ("How-to", "Best practices") else 1.0 for t in TOPICS]
    first = rng.choices(TOPICS, weights=weights)[0]
    tags = [first]
    r = rng.random()
    extra = 2 if r < 0.10 else (1 if r < 0.42 else 0)
    while len(tags) < 1 + extra:
        t = rng.choice(TOPICS)
        if t not in tags:
            tags.append(t)
    return tags, sev


def make_ticket(rng, idx, prefix="TKT"):
    prio = rng.choices(PRIORITIES, weights=[25, 35, 40])[0]
    sent = pick_sentiment(rng, prio)
    tags, sev = pick_topics(rng, prio)

    parts = []
    subject = None
    for n, tag in enumerate(tags):
        # Secondary topics may be at a lower severity: the headline topic carries the priority.
        s = sev if n == 0 else rng.choice(["q", "w"] if sev != "q" else ["q"])
        pool = S[tag].get(s) or S[tag]["q"]
        subj, body = rng.choice(pool)
        if subject is None:
            subject = fill(rng, subj)
        parts.append(fill(rng, body))
    if len(tags) > 1:
        joiners = ["Also, ", "Related: ", "On a separate note, ", "And while I'm at it: ", "Plus, ", ""]
        parts = [parts[0]] + [rng.choice(joiners) + p[0].lower() + p[1:] if rng.random() < 0.6 else p
                               for p in parts[1:]]

    opener = rng.choice(OPENERS[sent])
    closer = rng.choice(CLOSERS[sent])
    extra = fill(rng, rng.choice({"x": P0_EXTRA, "w": P1_EXTRA, "q": P2_EXTRA}[sev]))
    details = [fill(rng, d) for d in rng.sample(DETAIL, rng.choice([0, 0, 1, 1, 2]))]

    if sent == "Neutral":
        details += [fill(rng, f) for f in rng.sample(NEUTRAL_FACTS, rng.choice([0, 1, 1, 2]))]
    body_sentences = [opener] + parts + details + [extra, closer]
    body_sentences = [b for b in body_sentences if b]
    style = rng.random()
    if style < 0.15 and sent == "Neutral":
        # Terse admin: drop opener/closer, keep the facts (a voiceless ticket is Neutral).
        body = " ".join(parts + details + [extra])
    elif style < 0.55:
        body = " ".join(body_sentences)
    else:
        body = "\n\n".join([" ".join(body_sentences[:2]), " ".join(body_sentences[2:])])
    if rng.random() < 0.55:
        name = rng.choice(NAMES)
        sig = name if rng.random() < 0.5 else f"{name}\n{rng.choice(TITLES)}, {rng.choice(COMPANIES)}"
        body += ("\n\n" if rng.random() < 0.7 else "\n-- \n") + sig

    if sent == "Angry" and rng.random() < 0.25:
        subject = subject.upper()
    subject = rng.choice(SUBJECT_PREFIX[sent]) + subject
    if rng.random() < 0.12:
        body = body.lower()
    if rng.random() < 0.25:
        body = typo(rng, body, 0.06)
    if rng.random() < 0.1:
        subject = typo(rng, subject, 0.1)
    return {
        "id": f"{prefix}-{idx:05d}",
        "subject": subject,
        "body": body,
        "topic_tags": tags,
        "sentiment": sent,
        "priority": prio,
    }


def main():
    rng = random.Random(20261128)
    corpus = [make_ticket(rng, i + 1) for i in range(960)]
    with open(os.path.join(HERE, "labelled.ndjson"), "w", encoding="utf-8") as f:
        for t in corpus:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")

    # The demo sample: unlabelled, different seed and id range.
    rng = random.Random(777)
    base = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=datetime.timezone.utc)
    sample = []
    for i in range(300):
        t = make_ticket(rng, 10001 + i, prefix="TICKET")
        created = base - datetime.timedelta(milliseconds=rng.randrange(14 * 24 * 3600 * 1000))
        sample.append({"id": t["id"], "subject": t["subject"], "body": t["body"],
                       "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.")
                       + f"{created.microsecond // 1000:03d}Z"})
    sample.sort(key=lambda t: t["created_at"])
    outdir = os.path.join(ROOT, "deploy", "local", "samples")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "tickets.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        w.writerow(["id", "subject", "body", "created_at"])
        for t in sample[0::2]:
            w.writerow([t["id"], t["subject"], t["body"], t["created_at"]])
    with open(os.path.join(outdir, "tickets.json"), "w", encoding="utf-8") as f:
        json.dump(sample[1::2], f, ensure_ascii=False, indent=1)
        f.write("\n")

    counts = {}
    for t in corpus:
        for k in t["topic_tags"] + [t["sentiment"], t["priority"]]:
            counts[k] = counts.get(k, 0) + 1
    for k in TOPICS + SENTIMENTS + PRIORITIES:
        print(f"{k:16s} {counts.get(k, 0)}")


if __name__ == "__main__":
    main()
