/* circuit.h - a circuit breaker over consecutive provider failures.
 *
 * Closed: every attempt goes through. After `threshold` consecutive
 * failures it opens: attempts wait (the worker parks them and pauses
 * consumption). While open, one probe at a time is let through when the
 * worker's probe timer fires; a success closes the circuit. Pure state, no
 * timers of its own, so it is easy to reason about.
 */
#ifndef CL_CIRCUIT_H
#define CL_CIRCUIT_H

#include <stdbool.h>

typedef struct {
   unsigned threshold;
   unsigned failures; /* consecutive */
   bool open;
   bool probe_allowed; /* open: the next attempt may go as the probe */
   bool probing;       /* open: a probe is in flight */
} cl_circuit_t;

void cl_circuit_init (cl_circuit_t *c, unsigned threshold);

/* Whether an attempt may start now. When open and a probe is allowed, the
 * caller's attempt becomes the probe. */
bool cl_circuit_allows (cl_circuit_t *c);

/* The probe timer picked a parked attempt as the probe. */
void cl_circuit_probe_started (cl_circuit_t *c);

/* The probe timer found nothing parked: let the next attempt probe. */
void cl_circuit_allow_probe (cl_circuit_t *c);

/* Records an attempt's outcome. Returns +1 if the circuit just opened, -1 if
 * it just closed, 0 otherwise. */
int cl_circuit_record (cl_circuit_t *c, bool success);

bool cl_circuit_is_open (const cl_circuit_t *c);

#endif
