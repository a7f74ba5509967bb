/* ticket.c - lifetime of tk_ticket_t. */
#include "ticket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tk_ticket_t *
tk_ticket_new (void)
{
   tk_ticket_t *t = calloc (1, sizeof *t);
   if (!t) {
      fprintf (stderr, "triage: out of memory\n");
      abort ();
   }
   return t;
}

void
tk_classification_clear (tk_classification_t *c)
{
   for (size_t i = 0; i < c->n_topic_tags; i++) {
      free (c->topic_tags[i]);
   }
   free (c->sentiment);
   free (c->priority);
   memset (c, 0, sizeof *c);
}

void
tk_ticket_destroy (tk_ticket_t *t)
{
   if (!t) {
      return;
   }
   free (t->id);
   free (t->subject);
   free (t->body);
   free (t->source);
   tk_classification_clear (&t->classification);
   free (t->metadata.model_version);
   free (t->metadata.agent_version);
   free (t->last_error);
   free (t);
}
