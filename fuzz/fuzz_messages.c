/* fuzz_messages.c - the topic message parsers (messages.h): inbound ticket,
 * classify request, classified result, DLQ record. Invariant: whatever
 * parses builds again, and building what that text parses to gives the
 * same bytes (a fixed point), so a consumer reading what a producer wrote
 * never meets a message the producer could not have written. */
#include "fuzz_common.h"
#include "messages.h"

/* Frees a and b; aborts unless both exist and are the same text. */
static void
check_same (char *a, char *b)
{
   fuzz_check (a != NULL && b != NULL);
   fuzz_check (strcmp (a, b) == 0);
   free (a);
   free (b);
}

static void
inbound (const char *buf, size_t size)
{
   tk_error_t err;
   const char *reason = NULL;
   tk_ticket_t *t = tk_msg_inbound_parse (buf, size, &reason, &err);
   if (!t) {
      fuzz_check (reason != NULL);
      return;
   }
   size_t len;
   char *text = tk_msg_inbound_build (t, &len, &err);
   fuzz_check (text != NULL);
   tk_ticket_t *again = tk_msg_inbound_parse (text, len, &reason, &err);
   fuzz_check (again != NULL);
   fuzz_check (strcmp (again->id, t->id) == 0 && strcmp (again->body, t->body) == 0);
   check_same (text, tk_msg_inbound_build (again, NULL, &err));
   tk_ticket_destroy (again);
   tk_ticket_destroy (t);
   char idbuf[TK_TICKET_ID_MAX + 1];
   (void) tk_msg_inbound_refused_id (buf, size, buf, size, idbuf, sizeof idbuf);
}

static char *
classify_build (const tk_msg_classify_t *r, size_t *len)
{
   tk_error_t err;
   return tk_msg_classify_build (r->id, r->reason, r->requested_at, r->job_id[0] ? r->job_id : NULL,
                                 r->override_corrections, len, &err);
}

static void
classify (const char *buf, size_t size)
{
   tk_error_t err;
   tk_msg_classify_t r, again;
   if (!tk_msg_classify_parse (buf, size, &r, &err)) {
      return;
   }
   size_t len;
   char *text = classify_build (&r, &len);
   fuzz_check (text != NULL);
   fuzz_check (tk_msg_classify_parse (text, len, &again, &err));
   fuzz_check (strcmp (r.id, again.id) == 0 && r.reprocess == again.reprocess);
   fuzz_check (r.requested_at == again.requested_at);
   fuzz_check (r.override_corrections == again.override_corrections);
   check_same (text, classify_build (&again, NULL));
}

static char *
classified_build (const tk_msg_classified_t *c, size_t *len)
{
   tk_error_t err;
   return tk_msg_classified_build (c->id, &c->c, &c->conf, &c->md, len, &err);
}

static void
classified (const char *buf, size_t size)
{
   tk_error_t err;
   tk_msg_classified_t c, again;
   if (!tk_msg_classified_parse (buf, size, &c, &err)) {
      return;
   }
   size_t len;
   char *text = classified_build (&c, &len);
   fuzz_check (text != NULL);
   fuzz_check (tk_msg_classified_parse (text, len, &again, &err));
   fuzz_check (strcmp (c.id, again.id) == 0 && c.c.n_topic_tags == again.c.n_topic_tags);
   char *text2 = classified_build (&again, NULL);
   tk_msg_classified_clear (&again);
   fuzz_check (tk_msg_classified_parse (text2, strlen (text2), &again, &err));
   check_same (text2, classified_build (&again, NULL));
   free (text);
   tk_msg_classified_clear (&again);
   tk_msg_classified_clear (&c);
}

static char *
dlq_build (const tk_msg_dlq_t *d, size_t *len)
{
   tk_error_t err;
   tk_msg_dlq_fields_t f = {
      .id = d->id,
      .error = d->error,
      .attempts = d->attempts,
      .failed_at = d->failed_at,
      .provider = d->provider,
      .source_topic = d->source_topic,
      .source_partition = d->source_partition,
      .source_offset = d->source_offset,
      .message = d->message,
      .message_len = d->message_len,
      .encoding = d->encoding,
   };
   return tk_msg_dlq_build (&f, len, &err);
}

static void
dlq (const char *buf, size_t size)
{
   tk_error_t err;
   tk_msg_dlq_t d, again;
   if (!tk_msg_dlq_parse (buf, size, &d, &err)) {
      return;
   }
   size_t len;
   char *text = dlq_build (&d, &len);
   fuzz_check (text != NULL);
   fuzz_check (tk_msg_dlq_parse (text, len, &again, &err));
   fuzz_check ((d.id == NULL) == (again.id == NULL));
   fuzz_check (strcmp (d.error, again.error) == 0 && d.attempts == again.attempts);
   if (d.encoding == TK_MSG_DLQ_TEXT) {
      /* Text or base64: the original bytes come back exactly. */
      fuzz_check ((d.message == NULL) == (again.message == NULL));
      fuzz_check (d.message_len == again.message_len);
      fuzz_check (!d.message || memcmp (d.message, again.message, d.message_len) == 0);
   }
   char *text2 = dlq_build (&again, NULL);
   tk_msg_dlq_clear (&again);
   fuzz_check (text2 && tk_msg_dlq_parse (text2, strlen (text2), &again, &err));
   check_same (text2, dlq_build (&again, NULL));
   free (text);
   tk_msg_dlq_clear (&again);
   tk_msg_dlq_clear (&d);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   const char *buf = (const char *) data;
   inbound (buf, size);
   classify (buf, size);
   classified (buf, size);
   dlq (buf, size);
   return 0;
}
