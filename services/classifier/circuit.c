/* circuit.c - a circuit breaker over consecutive provider failures. */
#include "circuit.h"

void
cl_circuit_init (cl_circuit_t *c, unsigned threshold)
{
   c->threshold = threshold ? threshold : 1;
   c->failures = 0;
   c->open = c->probe_allowed = c->probing = false;
}

bool
cl_circuit_allows (cl_circuit_t *c)
{
   if (!c->open) {
      return true;
   }
   if (c->probe_allowed && !c->probing) {
      c->probe_allowed = false;
      c->probing = true;
      return true;
   }
   /* The probe picked by the timer is marked probing and let through. */
   return false;
}

void
cl_circuit_probe_started (cl_circuit_t *c)
{
   c->probing = true;
   c->probe_allowed = true; /* consumed by the cl_circuit_allows that follows */
   c->probing = false;
}

void
cl_circuit_allow_probe (cl_circuit_t *c)
{
   c->probe_allowed = true;
}

int
cl_circuit_record (cl_circuit_t *c, bool success)
{
   if (success) {
      c->failures = 0;
      if (c->open) {
         c->open = c->probe_allowed = c->probing = false;
         return -1;
      }
      return 0;
   }
   c->failures++;
   c->probing = false;
   if (!c->open && c->failures >= c->threshold) {
      c->open = true;
      c->probe_allowed = false;
      return 1;
   }
   return 0;
}

bool
cl_circuit_is_open (const cl_circuit_t *c)
{
   return c->open;
}
