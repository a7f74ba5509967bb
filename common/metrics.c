/* metrics.c - the metrics registry and its Prometheus text rendering.
 *
 * Values live in C11 atomics so updates from any thread never take a lock.
 * A double (gauge value, histogram sum) is kept as its bit pattern in an
 * _Atomic uint64_t and changed with a compare-and-swap loop: C11 has no
 * atomic fetch-add for floating point, and the bit-pattern form is lock-free
 * on every 64-bit target. A histogram keeps one non-cumulative count per
 * bucket; the cumulative `le` counts and `_count` are summed at render time,
 * so `_count` always equals the +Inf bucket.
 *
 * The registry's mutex guards the lists of families and series (creation,
 * lookup by labels, rendering); values are never guarded by it.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_PREFIX "triage_"

typedef enum {
   KIND_COUNTER,
   KIND_GAUGE,
   KIND_HISTOGRAM,
} kind_t;

struct tk_series {
   tk_metric_t *metric;
   char **values;         /* metric->nlabels, owned */
   _Atomic uint64_t value; /* counter: the count; gauge: bits of a double */
   _Atomic uint64_t sum;   /* histogram: bits of a double */
   _Atomic uint64_t *buckets; /* histogram: nbounds + 1, the last is +Inf */
   tk_series_t *next;
};

struct tk_metric {
   tk_metrics_t *reg;
   kind_t kind;
   char *name; /* with the prefix */
   char *help;
   char **label_names;
   size_t nlabels;
   double *bounds;
   size_t nbounds;
   tk_series_t *series, *series_tail;
   tk_metric_t *next;
};

struct tk_metrics {
   pthread_mutex_t lock;
   tk_metric_t *metrics, *metrics_tail;
};

/* ---------------------------------------------------------------------
 * Doubles in atomics
 * ------------------------------------------------------------------- */

static uint64_t
bits_of (double d)
{
   uint64_t u;
   memcpy (&u, &d, sizeof u);
   return u;
}

static double
double_of (uint64_t u)
{
   double d;
   memcpy (&d, &u, sizeof d);
   return d;
}

static void
atomic_add_double (_Atomic uint64_t *cell, double delta)
{
   uint64_t old = atomic_load_explicit (cell, memory_order_relaxed);
   while (!atomic_compare_exchange_weak_explicit (cell, &old, bits_of (double_of (old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
   }
}

/* ---------------------------------------------------------------------
 * Registry and families
 * ------------------------------------------------------------------- */

tk_metrics_t *
tk_metrics_new (void)
{
   tk_metrics_t *reg = calloc (1, sizeof *reg);
   if (reg && pthread_mutex_init (&reg->lock, NULL) != 0) {
      free (reg);
      reg = NULL;
   }
   return reg;
}

static void
strv_free (char **v, size_t n)
{
   for (size_t i = 0; v && i < n; i++) {
      free (v[i]);
   }
   free (v);
}

static void
series_free (tk_series_t *s)
{
   if (!s) {
      return;
   }
   strv_free (s->values, s->metric->nlabels);
   free ((void *) s->buckets);
   free (s);
}

static void
metric_free (tk_metric_t *m)
{
   if (!m) {
      return;
   }
   for (tk_series_t *s = m->series, *next; s; s = next) {
      next = s->next;
      series_free (s);
   }
   free (m->name);
   free (m->help);
   strv_free (m->label_names, m->nlabels);
   free (m->bounds);
   free (m);
}

void
tk_metrics_destroy (tk_metrics_t *reg)
{
   if (!reg) {
      return;
   }
   for (tk_metric_t *m = reg->metrics, *next; m; m = next) {
      next = m->next;
      metric_free (m);
   }
   pthread_mutex_destroy (&reg->lock);
   free (reg);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels allow no ':' and may
 * not start with "__" (reserved by Prometheus). */
static bool
valid_name (const char *s, bool is_label)
{
   if (!s || !*s || (is_label && s[0] == '_' && s[1] == '_')) {
      return false;
   }
   for (size_t i = 0; s[i]; i++) {
      char c = s[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                (!is_label && c == ':') || (i > 0 && c >= '0' && c <= '9');
      if (!ok) {
         return false;
      }
   }
   return true;
}

static size_t
count_labels (const char *const *names)
{
   size_t n = 0;
   while (names && names[n]) {
      n++;
   }
   return n;
}

/* Whether an existing family matches a new registration exactly. */
static bool
same_shape (const tk_metric_t *m, kind_t kind, const char *const *label_names, size_t nlabels,
            const double *bounds, size_t nbounds)
{
   if (m->kind != kind || m->nlabels != nlabels || m->nbounds != nbounds) {
      return false;
   }
   for (size_t i = 0; i < nlabels; i++) {
      if (strcmp (m->label_names[i], label_names[i]) != 0) {
         return false;
      }
   }
   for (size_t i = 0; i < nbounds; i++) {
      if (m->bounds[i] != bounds[i]) {
         return false;
      }
   }
   return true;
}

static tk_series_t *series_new (tk_metric_t *m, const char *const *values);

/* Whether nlabels label names are valid and distinct for a family of kind
 * (a histogram keeps "le" for its buckets). */
static bool
labels_valid (kind_t kind, const char *const *label_names, size_t nlabels)
{
   for (size_t i = 0; i < nlabels; i++) {
      if (!valid_name (label_names[i], true) ||
          (kind == KIND_HISTOGRAM && strcmp (label_names[i], "le") == 0)) {
         return false;
      }
      for (size_t j = 0; j < i; j++) {
         if (strcmp (label_names[i], label_names[j]) == 0) {
            return false;
         }
      }
   }
   return true;
}

/* Whether nbounds bucket bounds are finite and strictly increasing. */
static bool
bounds_valid (const double *bounds, size_t nbounds)
{
   for (size_t i = 0; i < nbounds; i++) {
      if (!isfinite (bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
         return false;
      }
   }
   return true;
}

/* name with NAME_PREFIX in front, which the caller frees; NULL when out of
 * memory. */
static char *
prefixed_name (const char *name)
{
   char *full = malloc (strlen (NAME_PREFIX) + strlen (name) + 1);
   if (full) {
      strcpy (full, NAME_PREFIX);
      strcat (full, name);
   }
   return full;
}

/* A family of reg named full, which it takes in every case, with copies of
 * help, the label names and the bounds, and its series if it has no labels,
 * or NULL when out of memory. The caller owns it until it is linked into
 * reg. */
static tk_metric_t *
metric_new (tk_metrics_t *reg, kind_t kind, char *full, const char *help,
            const char *const *label_names, size_t nlabels, const double *bounds, size_t nbounds)
{
   tk_metric_t *m = calloc (1, sizeof *m);
   if (!m) {
      free (full);
      return NULL;
   }
   m->reg = reg;
   m->kind = kind;
   m->name = full;
   m->nlabels = nlabels;
   m->nbounds = nbounds;
   if (!(m->help = strdup (help ? help : "")) ||
       (nlabels && !(m->label_names = calloc (nlabels, sizeof *m->label_names))) ||
       (nbounds && !(m->bounds = malloc (nbounds * sizeof *m->bounds)))) {
      goto fail;
   }
   for (size_t i = 0; i < nlabels; i++) {
      if (!(m->label_names[i] = strdup (label_names[i]))) {
         goto fail;
      }
   }
   if (nbounds) {
      memcpy (m->bounds, bounds, nbounds * sizeof *m->bounds);
   }
   /* An unlabelled family gets its series now, so it renders as 0. */
   if (nlabels == 0 && !series_new (m, NULL)) {
      goto fail;
   }
   return m;
fail:
   metric_free (m);
   return NULL;
}

static tk_metric_t *
metric_register (tk_metrics_t *reg, kind_t kind, const char *name, const char *help,
                 const char *const *label_names, const double *bounds, size_t nbounds)
{
   tk_metric_t *m = NULL;
   tk_metric_t *result = NULL;
   size_t nlabels = count_labels (label_names);
   char *full = NULL;

   if (!reg || !valid_name (name, false) || (nbounds > 0 && !bounds) ||
       !labels_valid (kind, label_names, nlabels) || !bounds_valid (bounds, nbounds)) {
      return NULL;
   }
   if (!(full = prefixed_name (name))) {
      return NULL;
   }

   pthread_mutex_lock (&reg->lock);
   for (tk_metric_t *e = reg->metrics; e; e = e->next) {
      if (strcmp (e->name, full) == 0) {
         if (same_shape (e, kind, label_names, nlabels, bounds, nbounds)) {
            result = e;
         }
         goto done;
      }
   }
   /* metric_new takes full. */
   m = metric_new (reg, kind, full, help, label_names, nlabels, bounds, nbounds);
   full = NULL;
   if (!m) {
      goto done;
   }
   if (reg->metrics_tail) {
      reg->metrics_tail->next = m;
   } else {
      reg->metrics = m;
   }
   reg->metrics_tail = m;
   result = m;
done:
   pthread_mutex_unlock (&reg->lock);
   free (full);
   return result;
}

tk_metric_t *
tk_metrics_counter (tk_metrics_t *reg, const char *name, const char *help,
                    const char *const *label_names)
{
   return metric_register (reg, KIND_COUNTER, name, help, label_names, NULL, 0);
}

tk_metric_t *
tk_metrics_gauge (tk_metrics_t *reg, const char *name, const char *help,
                  const char *const *label_names)
{
   return metric_register (reg, KIND_GAUGE, name, help, label_names, NULL, 0);
}

tk_metric_t *
tk_metrics_histogram (tk_metrics_t *reg, const char *name, const char *help,
                      const char *const *label_names, const double *bounds, size_t nbounds)
{
   return metric_register (reg, KIND_HISTOGRAM, name, help, label_names, bounds, nbounds);
}

/* ---------------------------------------------------------------------
 * Series
 * ------------------------------------------------------------------- */

/* Creates a series and appends it to m. Caller holds the registry lock. */
static tk_series_t *
series_new (tk_metric_t *m, const char *const *values)
{
   tk_series_t *s = calloc (1, sizeof *s);
   if (!s) {
      return NULL;
   }
   s->metric = m;
   if (m->nlabels && !(s->values = calloc (m->nlabels, sizeof *s->values))) {
      goto fail;
   }
   for (size_t i = 0; i < m->nlabels; i++) {
      if (!(s->values[i] = strdup (values[i]))) {
         goto fail;
      }
   }
   if (m->kind == KIND_HISTOGRAM) {
      if (!(s->buckets = calloc (m->nbounds + 1, sizeof *s->buckets))) {
         goto fail;
      }
      for (size_t i = 0; i <= m->nbounds; i++) {
         atomic_init (&s->buckets[i], 0);
      }
   }
   atomic_init (&s->value, m->kind == KIND_GAUGE ? bits_of (0.0) : 0);
   atomic_init (&s->sum, bits_of (0.0));
   if (m->series_tail) {
      m->series_tail->next = s;
   } else {
      m->series = s;
   }
   m->series_tail = s;
   return s;
fail:
   series_free (s);
   return NULL;
}

tk_series_t *
tk_metric_series (tk_metric_t *m, const char *const *values)
{
   tk_series_t *found = NULL;
   if (!m) {
      return NULL;
   }
   if (m->nlabels == 0) {
      return m->series; /* created at registration, never changes */
   }
   for (size_t i = 0; i < m->nlabels; i++) {
      if (!values || !values[i]) {
         return NULL;
      }
   }
   pthread_mutex_lock (&m->reg->lock);
   for (tk_series_t *s = m->series; s && !found; s = s->next) {
      size_t i = 0;
      while (i < m->nlabels && strcmp (s->values[i], values[i]) == 0) {
         i++;
      }
      if (i == m->nlabels) {
         found = s;
      }
   }
   if (!found) {
      found = series_new (m, values);
   }
   pthread_mutex_unlock (&m->reg->lock);
   return found;
}

/* Label counts beyond this need tk_metric_series. */
#define MAX_VARARG_LABELS 16

tk_series_t *
tk_metric_labels (tk_metric_t *m, ...)
{
   const char *values[MAX_VARARG_LABELS];
   va_list ap;
   if (!m || m->nlabels > MAX_VARARG_LABELS) {
      return NULL;
   }
   va_start (ap, m);
   for (size_t i = 0; i < m->nlabels; i++) {
      values[i] = va_arg (ap, const char *);
   }
   va_end (ap);
   return tk_metric_series (m, values);
}

/* ---------------------------------------------------------------------
 * Updates
 * ------------------------------------------------------------------- */

static bool
is_kind (const tk_series_t *s, kind_t kind)
{
   return s && s->metric->kind == kind;
}

void
tk_counter_add (tk_series_t *s, uint64_t n)
{
   if (is_kind (s, KIND_COUNTER)) {
      atomic_fetch_add_explicit (&s->value, n, memory_order_relaxed);
   }
}

void
tk_counter_inc (tk_series_t *s)
{
   tk_counter_add (s, 1);
}

void
tk_gauge_set (tk_series_t *s, double v)
{
   if (is_kind (s, KIND_GAUGE)) {
      atomic_store_explicit (&s->value, bits_of (v), memory_order_relaxed);
   }
}

void
tk_gauge_add (tk_series_t *s, double delta)
{
   if (is_kind (s, KIND_GAUGE)) {
      atomic_add_double (&s->value, delta);
   }
}

void
tk_gauge_inc (tk_series_t *s)
{
   tk_gauge_add (s, 1.0);
}

void
tk_gauge_dec (tk_series_t *s)
{
   tk_gauge_add (s, -1.0);
}

void
tk_histogram_observe (tk_series_t *s, double v)
{
   if (!is_kind (s, KIND_HISTOGRAM)) {
      return;
   }
   const tk_metric_t *m = s->metric;
   /* Bucket i counts observations <= bounds[i]; binary search for the
    * first such bound, or the +Inf bucket (also where NaN lands). */
   size_t lo = 0, hi = m->nbounds;
   while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (v <= m->bounds[mid]) {
         hi = mid;
      } else {
         lo = mid + 1;
      }
   }
   if (isnan (v)) {
      lo = m->nbounds;
   }
   atomic_fetch_add_explicit (&s->buckets[lo], 1, memory_order_relaxed);
   atomic_add_double (&s->sum, v);
}

uint64_t
tk_counter_get (const tk_series_t *s)
{
   return is_kind (s, KIND_COUNTER)
             ? atomic_load_explicit ((_Atomic uint64_t *) &s->value, memory_order_relaxed)
             : 0;
}

double
tk_gauge_get (const tk_series_t *s)
{
   return is_kind (s, KIND_GAUGE) ? double_of (atomic_load_explicit (
                                       (_Atomic uint64_t *) &s->value, memory_order_relaxed))
                                  : 0.0;
}

uint64_t
tk_histogram_count (const tk_series_t *s)
{
   uint64_t n = 0;
   if (is_kind (s, KIND_HISTOGRAM)) {
      for (size_t i = 0; i <= s->metric->nbounds; i++) {
         n += atomic_load_explicit (&s->buckets[i], memory_order_relaxed);
      }
   }
   return n;
}

double
tk_histogram_sum (const tk_series_t *s)
{
   return is_kind (s, KIND_HISTOGRAM) ? double_of (atomic_load_explicit (
                                           (_Atomic uint64_t *) &s->sum, memory_order_relaxed))
                                      : 0.0;
}

/* ---------------------------------------------------------------------
 * Rendering
 * ------------------------------------------------------------------- */

typedef struct {
   char *data;
   size_t len, cap;
   bool failed; /* out of memory: everything after is dropped */
} buf_t;

static void
buf_append (buf_t *b, const char *s, size_t n)
{
   if (b->failed) {
      return;
   }
   if (b->len + n + 1 > b->cap) {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap < b->len + n + 1) {
         cap *= 2;
      }
      char *data = realloc (b->data, cap);
      if (!data) {
         b->failed = true;
         return;
      }
      b->data = data;
      b->cap = cap;
   }
   memcpy (b->data + b->len, s, n);
   b->len += n;
   b->data[b->len] = '\0';
}

static void
buf_puts (buf_t *b, const char *s)
{
   buf_append (b, s, strlen (s));
}

/* Appends s with backslash and newline escaped, and '"' too if quotes
 * (label values escape all three, HELP text only the first two). */
static void
buf_escaped (buf_t *b, const char *s, bool quotes)
{
   const char *run = s;
   for (; *s; s++) {
      const char *esc = NULL;
      if (*s == '\\') {
         esc = "\\\\";
      } else if (*s == '\n') {
         esc = "\\n";
      } else if (*s == '"' && quotes) {
         esc = "\\\"";
      }
      if (esc) {
         buf_append (b, run, (size_t) (s - run));
         buf_puts (b, esc);
         run = s + 1;
      }
   }
   buf_append (b, run, (size_t) (s - run));
}

/* Formats a sample value the way Prometheus parses it: the shortest
 * decimal that reads back as the same double, or +Inf, -Inf, NaN. */
static void
format_double (double d, char *out, size_t cap)
{
   if (isnan (d)) {
      snprintf (out, cap, "NaN");
      return;
   }
   if (isinf (d)) {
      snprintf (out, cap, d > 0 ? "+Inf" : "-Inf");
      return;
   }
   /* Whole numbers in the range where doubles are exact print as integers
    * ("1200", not the "1.2e+03" the shortest %g would give). */
   if (d == floor (d) && fabs (d) < 1e15) {
      snprintf (out, cap, "%.0f", d);
      return;
   }
   for (int prec = 1; prec <= 17; prec++) {
      snprintf (out, cap, "%.*g", prec, d);
      if (strtod (out, NULL) == d) {
         return;
      }
   }
}

/* Appends `{a="x",b="y"` plus an optional extra le label, then `}`; nothing
 * for a series without labels and no le. */
static void
buf_labels (buf_t *b, const tk_series_t *s, const char *le)
{
   const tk_metric_t *m = s->metric;
   if (m->nlabels == 0 && !le) {
      return;
   }
   buf_puts (b, "{");
   for (size_t i = 0; i < m->nlabels; i++) {
      buf_puts (b, i ? "," : "");
      buf_puts (b, m->label_names[i]);
      buf_puts (b, "=\"");
      buf_escaped (b, s->values[i], true);
      buf_puts (b, "\"");
   }
   if (le) {
      buf_puts (b, m->nlabels ? ",le=\"" : "le=\"");
      buf_puts (b, le);
      buf_puts (b, "\"");
   }
   buf_puts (b, "}");
}

static void
buf_sample (buf_t *b, const tk_series_t *s, const char *suffix, const char *le,
            const char *value)
{
   buf_puts (b, s->metric->name);
   buf_puts (b, suffix);
   buf_labels (b, s, le);
   buf_puts (b, " ");
   buf_puts (b, value);
   buf_puts (b, "\n");
}

static void
render_series (buf_t *b, const tk_series_t *s)
{
   const tk_metric_t *m = s->metric;
   char num[64], le[64];
   switch (m->kind) {
   case KIND_COUNTER:
      snprintf (num, sizeof num, "%" PRIu64, tk_counter_get (s));
      buf_sample (b, s, "", NULL, num);
      break;
   case KIND_GAUGE:
      format_double (tk_gauge_get (s), num, sizeof num);
      buf_sample (b, s, "", NULL, num);
      break;
   case KIND_HISTOGRAM: {
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= m->nbounds; i++) {
         cumulative += atomic_load_explicit (&s->buckets[i], memory_order_relaxed);
         if (i < m->nbounds) {
            format_double (m->bounds[i], le, sizeof le);
         } else {
            snprintf (le, sizeof le, "+Inf");
         }
         snprintf (num, sizeof num, "%" PRIu64, cumulative);
         buf_sample (b, s, "_bucket", le, num);
      }
      format_double (tk_histogram_sum (s), num, sizeof num);
      buf_sample (b, s, "_sum", NULL, num);
      snprintf (num, sizeof num, "%" PRIu64, cumulative);
      buf_sample (b, s, "_count", NULL, num);
      break;
   }
   }
}

char *
tk_metrics_render (tk_metrics_t *reg, size_t *len)
{
   static const char *const type_names[] = {"counter", "gauge", "histogram"};
   buf_t b = {0};
   if (!reg) {
      return NULL;
   }
   buf_puts (&b, ""); /* an empty registry still renders as "" */
   pthread_mutex_lock (&reg->lock);
   for (const tk_metric_t *m = reg->metrics; m; m = m->next) {
      buf_puts (&b, "# HELP ");
      buf_puts (&b, m->name);
      buf_puts (&b, " ");
      buf_escaped (&b, m->help, false);
      buf_puts (&b, "\n# TYPE ");
      buf_puts (&b, m->name);
      buf_puts (&b, " ");
      buf_puts (&b, type_names[m->kind]);
      buf_puts (&b, "\n");
      for (const tk_series_t *s = m->series; s; s = s->next) {
         render_series (&b, s);
      }
   }
   pthread_mutex_unlock (&reg->lock);
   if (b.failed) {
      free (b.data);
      return NULL;
   }
   if (len) {
      *len = b.len;
   }
   return b.data;
}
