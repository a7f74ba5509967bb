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

static bool
admin_run (admin_op_t op, const char *brokers, const tk_kafka_passthrough_t *pt,
           const char *const *names, size_t n, int partitions, int replication, int timeout_ms,
           tk_error_t *err)
{
   bool ok = false;
   char errstr[512] = "";
   rd_kafka_conf_t *conf = NULL;
   rd_kafka_t *rk = NULL;
   rd_kafka_queue_t *q = NULL;
   rd_kafka_AdminOptions_t *aopts = NULL;
   rd_kafka_NewTopic_t **newt = NULL;
   rd_kafka_DeleteTopic_t **delt = NULL;
   rd_kafka_event_t *ev = NULL;
   const char *verb = op == ADMIN_CREATE ? "create" : "delete";

   if (n == 0) {
      return true;
   }
   if (!(conf = tk_kafka_conf_new (brokers, pt, err))) {
      goto done;
   }
   /* rd_kafka_new takes ownership of conf on success only. */
   if (!(rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
      tk_error_set (err, TK_ERR_KAFKA, 0, "rd_kafka_new: %s", errstr);
      goto done;
   }
   conf = NULL;
   q = rd_kafka_queue_new (rk);
   aopts = rd_kafka_AdminOptions_new (rk, op == ADMIN_CREATE ? RD_KAFKA_ADMIN_OP_CREATETOPICS
                                                             : RD_KAFKA_ADMIN_OP_DELETETOPICS);
   if (rd_kafka_AdminOptions_set_operation_timeout (aopts, timeout_ms, errstr, sizeof errstr) ||
       rd_kafka_AdminOptions_set_request_timeout (aopts, timeout_ms, errstr, sizeof errstr)) {
      tk_error_set (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__INVALID_ARG, "%s topics: %s", verb,
                    errstr);
      goto done;
   }

   if (op == ADMIN_CREATE) {
      if (!(newt = calloc (n, sizeof *newt))) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory creating topics");
         goto done;
      }
      for (size_t i = 0; i < n; i++) {
         newt[i] = rd_kafka_NewTopic_new (names[i], partitions, replication, errstr,
                                          sizeof errstr);
         if (!newt[i]) {
            tk_error_set_field (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__INVALID_ARG, names[i],
                                "create topic \"%s\": %s", names[i], errstr);
            goto done;
         }
      }
      rd_kafka_CreateTopics (rk, newt, n, aopts, q);
   } else {
      if (!(delt = calloc (n, sizeof *delt))) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory deleting topics");
         goto done;
      }
      for (size_t i = 0; i < n; i++) {
         delt[i] = rd_kafka_DeleteTopic_new (names[i]);
      }
      rd_kafka_DeleteTopics (rk, delt, n, aopts, q);
   }

   /* The admin client times the request out itself; the margin only guards
    * against a result that never comes. */
   ev = rd_kafka_queue_poll (q, timeout_ms + 5000);
   if (!ev) {
      tk_error_set (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__TIMED_OUT, "%s topics: timed out",
                    verb);
      goto done;
   }
   if (rd_kafka_event_error (ev)) {
      tk_error_set (err, TK_ERR_KAFKA, rd_kafka_event_error (ev), "%s topics: %s", verb,
                    rd_kafka_event_error_string (ev));
      goto done;
   }
   size_t cnt = 0;
   if (op == ADMIN_CREATE) {
      const rd_kafka_topic_result_t **res =
         rd_kafka_CreateTopics_result_topics (rd_kafka_event_CreateTopics_result (ev), &cnt);
      ok = admin_check_results (res, cnt, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, verb, err);
   } else {
      const rd_kafka_topic_result_t **res =
         rd_kafka_DeleteTopics_result_topics (rd_kafka_event_DeleteTopics_result (ev), &cnt);
      ok = admin_check_results (res, cnt, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, verb, err);
   }

done:
   if (ev) {
      rd_kafka_event_destroy (ev);
   }
   if (newt) {
      for (size_t i = 0; i < n; i++) {
         if (newt[i]) {
            rd_kafka_NewTopic_destroy (newt[i]);
         }
      }
      free (newt);
   }
   if (delt) {
      rd_kafka_DeleteTopic_destroy_array (delt, n);
      free (delt);
   }
   if (aopts) {
      rd_kafka_AdminOptions_destroy (aopts);
   }
   if (q) {
      rd_kafka_queue_destroy (q);
   }
   if (rk) {
      rd_kafka_destroy (rk);
   }
   if (conf) {
      rd_kafka_conf_destroy (conf);
   }
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
