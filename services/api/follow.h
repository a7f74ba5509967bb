/* follow.h - the api follows the topics that announce other services'
 * writes to tickets, so that the default listing served from the snapshot's
 * newest tickets (snapshot.h, newest.h) shows them within a second or so
 * instead of at the next refresh (docs/decisions/0020-api-follows-the-topics.md).
 *
 * Ingest publishes a classification request to TRIAGE_TOPIC_CLASSIFY for
 * every ticket it stores (once the write is durable), the api's own
 * /api/process publishes there too, and the classifier publishes every
 * result to TRIAGE_TOPIC_CLASSIFIED once its update is durable. Each message
 * names one ticket id (common/messages.h). The follower:
 *
 * - consumes both topics with a consumer group of its own
 *   (triage-api-follow-<host>-<pid>-<random>), so every replica sees every
 *   message; from the end of the topics (auto.offset.reset=latest), nothing
 *   committed. The requests of the api's own processing jobs (they carry a
 *   job id) announce no write and are skipped. A broker that is down is librdkafka's to retry: the api
 *   starts and serves without it, and the listing then catches up at the
 *   timed refreshes as before.
 * - queues the ids it learns and reads them back from the database on the
 *   threadpool, one batch of at most API_FOLLOW_BATCH ids at a time, one
 *   indexed lookup by _id each (a $in is a scan of the whole collection on
 *   FerretDB 1.x). One batch at a time keeps the patches of one ticket in
 *   the order of its reads, so the last patch is the newest state read.
 * - patches the window on the loop as the api's own writes do
 *   (api_snapshot_ticket_put; api_snapshot_ticket_deleted for an id that is
 *   not stored), each batch's ids counted as writes in flight
 *   (api_snapshot_write_begin / _end) so that a read racing the api's own
 *   write of the same ticket drops the window rather than patching it back.
 * - asks for a statistics refresh TRIAGE_API_FOLLOW_REFRESH after the
 *   messages (api_snapshot_refresh_soon, coalesced), and one when partitions
 *   are assigned (what was written before the follower joined).
 *
 * More than API_FOLLOW_PENDING_MAX ids waiting, or a batch whose reads
 * fail, are left to a refresh instead. Everything here runs on the loop
 * except the batch's work function.
 */
#ifndef API_FOLLOW_H
#define API_FOLLOW_H

#include <stdbool.h>

#include "api.h"
#include "error.h"

/* Ids read back in one threadpool job. */
#define API_FOLLOW_BATCH 256
/* Ids waiting beyond which the follower gives them up for a refresh. */
#define API_FOLLOW_PENDING_MAX 20000

/* Starts following when TRIAGE_API_FOLLOW=on and there is something to keep
 * fresh (a snapshot: TRIAGE_API_CACHE_TTL > 0). Call after
 * api_snapshot_start. false with err only when the consumer cannot be made
 * at all (a bad librdkafka setting); an unreachable broker is not an
 * error. */
bool api_follow_start (api_t *api, tk_error_t *err);

/* Shutdown step: leaves the group, waits for the batch being read, frees
 * the follower. Runs before the snapshot's step. */
void api_follow_stop (void *user_data, void *token);

#endif
