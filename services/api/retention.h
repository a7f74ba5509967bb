/* retention.h - the api's scheduled retention job (issue 8, section 5).
 *
 * With TRIAGE_RETENTION_DAYS > 0, every TRIAGE_RETENTION_INTERVAL (and once
 * shortly after start) the tickets created more than that many days ago are
 * purged (TRIAGE_RETENTION_MODE=purge: deleted) or anonymised (anonymise:
 * subject and body replaced by their PII-masked form, tk_pii_mask, and the
 * ticket marked anonymised_at; labels, scores and dates kept for
 * analytics). The database work runs on the threadpool (tk_store_async);
 * each run writes one `audit_log` record (action retention.purge or
 * retention.anonymise, key_id "retention", with the cutoff and counts). A
 * timer is used because FerretDB has no TTL indexes.
 */
#ifndef API_RETENTION_H
#define API_RETENTION_H

#include <stdbool.h>

#include "api.h"
#include "error.h"

/* Starts the job's timer on api's loop when retention is on, and adds the
 * shutdown step that stops it (waiting for a run in progress). true when
 * retention is off. false with err when the timer or step cannot be set. */
bool api_retention_start (api_t *api, tk_error_t *err);

#endif
