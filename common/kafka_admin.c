/* kafka_admin.c - creating and deleting topics. These calls block (a
 * temporary client, a request, a wait for its result), so they belong to
 * tools, tests and start-up code, never to a running loop. */
#include "kafka.h"

#include <stdlib.h>
#include <string.h>

typedef enum { ADMIN_CREATE, ADMIN_DELETE } admin_op_t;

/* Checks per-topic results; the benign error of each operation is success. */
static bool
admin_check_results (const rd_kafka_topic_result_t **res, size_t n, rd_kafka_resp_err_t benign,
                     const char *verb, tk_error_t *err)
{
   for (size_t i = 0; i < n; i++) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error (res[i]);
      if (e && e != benign) {
         const char *msg = rd_kafka_topic_result_error_string (res[i]);
         tk_error_set_field (err, TK_ERR_KAFKA, e, rd_kafka_topic_result_name (res[i]),
                             "%s topic \"%s\": %s", verb, rd_kafka_topic_result_name (res[i]),
                             msg ? msg : rd_kafka_err2str (e));
         return false;
      }
   }
   return true;
}

/* A temporary admin client, its result queue and the options of its one
 * request. Owns all three. */
typedef struct {
   rd_kafka_t *rk;
   rd_kafka_queue_t *q;
   rd_kafka_AdminOptions_t *aopts;
} admin_client_t;

/* Frees what an admin client holds; accepts one never or half opened. */
static void
admin_client_close (admin_client_t *ac)
{
   if (ac->aopts) {
      rd_kafka_AdminOptions_destroy (ac->aopts);
   }
   if (ac->q) {
      rd_kafka_queue_destroy (ac->q);
   }
   if (ac->rk) {
      rd_kafka_destroy (ac->rk);
   }
}

/* Opens ac (zeroed) for op with both timeouts at timeout_ms. false with err
 * filled; admin_client_close frees what was made in every case. */
static bool
admin_client_open (admin_client_t *ac, admin_op_t op, const char *brokers,
                   const tk_kafka_passthrough_t *pt, int timeout_ms, const char *verb,
                   tk_error_t *err)
{
   char errstr[512] = "";
   rd_kafka_conf_t *conf = tk_kafka_conf_new (brokers, pt, err);
   if (!conf) {
      return false;
   }
   /* rd_kafka_new takes ownership of conf on success only. */
   if (!(ac->rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
      tk_error_set (err, TK_ERR_KAFKA, 0, "rd_kafka_new: %s", errstr);
      rd_kafka_conf_destroy (conf);
      return false;
   }
   rd_kafka_admin_op_t aop =
      op == ADMIN_CREATE ? RD_KAFKA_ADMIN_OP_CREATETOPICS : RD_KAFKA_ADMIN_OP_DELETETOPICS;
   ac->q = rd_kafka_queue_new (ac->rk);
   ac->aopts = rd_kafka_AdminOptions_new (ac->rk, aop);
   if (rd_kafka_AdminOptions_set_operation_timeout (ac->aopts, timeout_ms, errstr,
                                                    sizeof errstr) ||
       rd_kafka_AdminOptions_set_request_timeout (ac->aopts, timeout_ms, errstr, sizeof errstr)) {
      tk_error_set (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__INVALID_ARG, "%s topics: %s", verb,
                    errstr);
      return false;
   }
   return true;
}

/* Frees n new-topic objects (any of them may be NULL) and their array.
 * Accepts NULL. */
static void
admin_new_topics_destroy (rd_kafka_NewTopic_t **newt, size_t n)
{
   if (!newt) {
      return;
   }
   for (size_t i = 0; i < n; i++) {
      if (newt[i]) {
         rd_kafka_NewTopic_destroy (newt[i]);
      }
   }
   free (newt);
}

/* The n topics to create, for rd_kafka_CreateTopics; the caller frees them
 * with admin_new_topics_destroy. NULL with err filled. */
static rd_kafka_NewTopic_t **
admin_new_topics (const char *const *names, size_t n, int partitions, int replication,
                  tk_error_t *err)
{
   char errstr[512] = "";
   rd_kafka_NewTopic_t **newt = calloc (n, sizeof *newt);
   if (!newt) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory creating topics");
      return NULL;
   }
   for (size_t i = 0; i < n; i++) {
      newt[i] = rd_kafka_NewTopic_new (names[i], partitions, replication, errstr, sizeof errstr);
      if (!newt[i]) {
         tk_error_set_field (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__INVALID_ARG, names[i],
                             "create topic \"%s\": %s", names[i], errstr);
         admin_new_topics_destroy (newt, n);
         return NULL;
      }
   }
   return newt;
}

/* The n topics to delete, for rd_kafka_DeleteTopics; the caller frees them
 * with rd_kafka_DeleteTopic_destroy_array and free. NULL with err filled. */
static rd_kafka_DeleteTopic_t **
admin_delete_topics (const char *const *names, size_t n, tk_error_t *err)
{
   rd_kafka_DeleteTopic_t **delt = calloc (n, sizeof *delt);
   if (!delt) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory deleting topics");
      return NULL;
   }
   for (size_t i = 0; i < n; i++) {
      delt[i] = rd_kafka_DeleteTopic_new (names[i]);
   }
   return delt;
}

/* Waits for the result of ac's request and checks it per topic. false with
 * err filled. */
static bool
admin_wait (admin_client_t *ac, admin_op_t op, int timeout_ms, const char *verb,
            tk_error_t *err)
{
   bool ok = false;
   /* The admin client times the request out itself; the margin only guards
    * against a result that never comes. */
   rd_kafka_event_t *ev = rd_kafka_queue_poll (ac->q, timeout_ms + 5000);
   if (!ev) {
      tk_error_set (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__TIMED_OUT, "%s topics: timed out",
                    verb);
      return false;
   }
   size_t cnt = 0;
   if (rd_kafka_event_error (ev)) {
      tk_error_set (err, TK_ERR_KAFKA, rd_kafka_event_error (ev), "%s topics: %s", verb,
                    rd_kafka_event_error_string (ev));
   } else if (op == ADMIN_CREATE) {
      const rd_kafka_topic_result_t **res =
         rd_kafka_CreateTopics_result_topics (rd_kafka_event_CreateTopics_result (ev), &cnt);
      ok = admin_check_results (res, cnt, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, verb, err);
   } else {
      const rd_kafka_topic_result_t **res =
         rd_kafka_DeleteTopics_result_topics (rd_kafka_event_DeleteTopics_result (ev), &cnt);
      ok = admin_check_results (res, cnt, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, verb, err);
   }
   rd_kafka_event_destroy (ev);
   return ok;
}

static bool
admin_run (admin_op_t op, const char *brokers, const tk_kafka_passthrough_t *pt,
           const char *const *names, size_t n, int partitions, int replication, int timeout_ms,
           tk_error_t *err)
{
   bool ok = false;
   admin_client_t ac = {0};
   rd_kafka_NewTopic_t **newt = NULL;
   rd_kafka_DeleteTopic_t **delt = NULL;
   const char *verb = op == ADMIN_CREATE ? "create" : "delete";

   if (n == 0) {
      return true;
   }
   if (!admin_client_open (&ac, op, brokers, pt, timeout_ms, verb, err)) {
      goto done;
   }
   if (op == ADMIN_CREATE) {
      if (!(newt = admin_new_topics (names, n, partitions, replication, err))) {
         goto done;
      }
      rd_kafka_CreateTopics (ac.rk, newt, n, ac.aopts, ac.q);
   } else {
      if (!(delt = admin_delete_topics (names, n, err))) {
         goto done;
      }
      rd_kafka_DeleteTopics (ac.rk, delt, n, ac.aopts, ac.q);
   }
   ok = admin_wait (&ac, op, timeout_ms, verb, err);
done:
   admin_new_topics_destroy (newt, n);
   if (delt) {
      rd_kafka_DeleteTopic_destroy_array (delt, n);
      free (delt);
   }
   admin_client_close (&ac);
   return ok;
}

bool
tk_kafka_create_topics (const char *brokers, const tk_kafka_passthrough_t *pt,
                        const char *const *names, size_t n, int partitions, int replication,
                        int timeout_ms, tk_error_t *err)
{
   return admin_run (ADMIN_CREATE, brokers, pt, names, n, partitions, replication, timeout_ms,
                     err);
}

bool
tk_kafka_delete_topics (const char *brokers, const tk_kafka_passthrough_t *pt,
                        const char *const *names, size_t n, int timeout_ms, tk_error_t *err)
{
   return admin_run (ADMIN_DELETE, brokers, pt, names, n, 0, 0, timeout_ms, err);
}
