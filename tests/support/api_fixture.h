/* api_fixture.h - what the triage-api integration tests share: a unique
 * database (indexes created, a store on it for seeding), optionally a
 * classify topic of its own, triage-api children started against them with
 * the test's administrator key, keys for the other roles made through the
 * API, HTTP requests whose answers come back parsed, direct access to a
 * collection, and the teardown (SIGTERM, exit status 0, database dropped,
 * topic deleted). Blocking: tests only. Helpers that take no error
 * argument fail the running test (cmocka) when something goes wrong. */
#ifndef TK_TEST_API_FIXTURE_H
#define TK_TEST_API_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "service_proc.h"
#include "store.h"

struct _mongoc_client_t;
struct _mongoc_collection_t;

typedef struct {
   char db_name[64];
   char topic[96]; /* "" unless tk_api_fx_setup was given a topic prefix */
   char vars[4][256];
   const char *admin_key;          /* borrowed from the caller: a string literal */
   tk_store_t *store;              /* on db_name, for seeding and checks */
   tk_test_service_t svc;          /* the main triage-api; tk_api_fx_teardown stops it */
   char viewer_key[128], operator_key[128]; /* filled by tk_api_fx_make_role_keys */
   struct _mongoc_client_t *borrowed; /* the client behind tk_api_fx_collection */
} tk_api_fx_t;

/* A unique database named from db_prefix, its indexes created, and
 * fx->store on it; when topic_prefix is not NULL also a unique classify
 * topic, created on the broker. admin_key is kept (not copied) and given to
 * every service started. Returns false, with a message on stderr, when the
 * broker or the database refuse. */
bool tk_api_fx_setup (tk_api_fx_t *fx, const char *db_prefix, const char *topic_prefix,
                      const char *admin_key);

/* Starts build/bin/triage-<name> ("api", "ingest") as svc with the
 * fixture's settings (database, topic, Mongo URI, brokers, admin key) plus
 * extra (a NULL-terminated "KEY=VALUE" list, may be NULL). Returns what
 * tk_test_service_start returns. */
bool tk_api_fx_start (tk_api_fx_t *fx, tk_test_service_t *svc, const char *name,
                      const char *const *extra);

/* Stops svc with SIGTERM (15 s), prints its log unless it exited with 0,
 * and returns the exit status (as tk_test_service_stop). */
int tk_api_fx_stop (tk_test_service_t *svc);

/* Stops fx->svc as tk_api_fx_stop, drops the database, deletes the topic.
 * Returns 0 when the service exited with 0, else -1 (a group teardown's
 * answer). */
int tk_api_fx_teardown (tk_api_fx_t *fx);

/* tk_api_fx_teardown as a cmocka group teardown, for a group setup that
 * put its fixture in *state. */
int tk_api_fx_group_teardown (void **state);

/* ---- HTTP ------------------------------------------------------------------------ */

typedef struct {
   long status;
   char *body; /* NUL-terminated, never NULL */
   size_t body_len;
   cJSON *json;              /* body parsed, NULL when it is not JSON */
   char content_type[128];   /* "" when none */
   char *headers;            /* the response's header lines, raw */
} tk_api_fx_resp_t;

/* One request to svc: Authorization: Bearer key unless key is NULL,
 * Content-Type unless content_type is NULL, body (body_len bytes) unless
 * body is NULL. Fails the test when no answer arrives. The caller frees
 * the answer with tk_api_fx_resp_free. */
tk_api_fx_resp_t tk_api_fx_request (const tk_test_service_t *svc, const char *method,
                                    const char *path, const char *key, const char *body,
                                    size_t body_len, const char *content_type);

/* tk_api_fx_request with a NUL-terminated JSON body (sent as
 * application/json) or none. */
tk_api_fx_resp_t tk_api_fx_call (const tk_test_service_t *svc, const char *method,
                                 const char *path, const char *key, const char *json_body);

/* The value of response header name (any case) copied into buf; "" when
 * absent. Returns buf. */
const char *tk_api_fx_header (const tk_api_fx_resp_t *r, const char *name, char *buf,
                              size_t cap);

void tk_api_fx_resp_free (tk_api_fx_resp_t *r);

/* POSTs {"role":role} (and "name" unless name is NULL) to /api/keys on
 * fx->svc with the admin key, asserts 201 and a key in the answer, and
 * copies the key into out. */
void tk_api_fx_make_key (tk_api_fx_t *fx, const char *role, const char *name, char *out,
                         size_t cap);

/* A viewer and an operator key, into fx->viewer_key and fx->operator_key. */
void tk_api_fx_make_role_keys (tk_api_fx_t *fx);

/* ---- JSON ------------------------------------------------------------------------- */

/* The number at key of obj; fails the test (naming key) when there is none. */
double tk_api_fx_num (const cJSON *obj, const char *key);

/* The string at key of obj, or NULL. Borrowed from obj. */
const char *tk_api_fx_str (const cJSON *obj, const char *key);

/* ---- the database ----------------------------------------------------------------- */

/* Stores one raw ticket; asserts that it was stored. */
void tk_api_fx_seed (tk_api_fx_t *fx, const char *id, const char *subject, const char *body,
                     int64_t created_at);

/* Records a classification of id (tag2 may be NULL: one topic tag), with
 * confidences ct, cs, cp and the metadata given; asserts that it was stored. */
void tk_api_fx_classify (tk_api_fx_t *fx, const char *id, const char *tag1, const char *tag2,
                         const char *sentiment, const char *priority, double ct, double cs,
                         double cp, int64_t time_ms, const char *model, int64_t processed_at);

/* The collection name of the fixture's database, on a client borrowed from
 * fx->store: one at a time, given back with tk_api_fx_collection_release,
 * which also destroys coll. */
struct _mongoc_collection_t *tk_api_fx_collection (tk_api_fx_t *fx, const char *name);

void tk_api_fx_collection_release (tk_api_fx_t *fx, struct _mongoc_collection_t *coll);

/* Makes document i of a batch named prefix into *doc (which the caller
 * destroys): a writer's own generator for tk_api_fx_insert_range. */
typedef void (*tk_api_fx_doc_fn) (int i, const char *prefix, struct _bson_t *doc);

/* Writes documents from..to-1 of make into the fixture's tickets
 * collection, straight (not through the services), in bulks of 500, as a
 * migration or a restore would. Fails the test when an insert fails. */
void tk_api_fx_insert_range (tk_api_fx_t *fx, tk_api_fx_doc_fn make, const char *prefix, int from,
                             int to);

/* The value of one series (e.g. `triage_api_statistics_scans_total{result="ok"}`)
 * on svc's /metrics, -1 when it is absent or the metrics cannot be read. */
double tk_api_fx_metric (const tk_test_service_t *svc, const char *series);

#endif
