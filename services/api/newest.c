/* newest.c - the newest tickets kept rendered in the snapshot (see
 * newest.h). */
#include "newest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "buf.h"

typedef struct {
   int64_t ms;     /* created_at */
   char *id;       /* owned */
   bson_t *doc;    /* owned while collecting; NULL once rendered */
   char *json;     /* owned once finished; NULL: no valid ticket (skipped) */
   size_t len;
} item_t;

struct api_newest {
   size_t keep;
   item_t *v; /* collecting: a min-heap on (ms, id); finished: newest first */
   size_t n;
   uint64_t offered; /* documents seen */
   bool odd;         /* a document without date created_at or string id */
   bool finished;
   bool complete; /* the window holds every ticket of the scan */
};

/* The listing's order is (created_at, id) descending; this compares the
 * ascending way, ids bytewise as MongoDB and FerretDB do. */
static int
key_cmp (int64_t a_ms, const char *a_id, int64_t b_ms, const char *b_id)
{
   if (a_ms != b_ms) {
      return a_ms < b_ms ? -1 : 1;
   }
   return strcmp (a_id, b_id);
}

static int
item_cmp (const item_t *a, const item_t *b)
{
   return key_cmp (a->ms, a->id, b->ms, b->id);
}

static void
item_free (item_t *it)
{
   free (it->id);
   bson_destroy (it->doc);
   free (it->json);
}

api_newest_t *
api_newest_new (size_t keep)
{
   api_newest_t *n = calloc (1, sizeof *n);
   if (!n || !(n->v = calloc (keep ? keep : 1, sizeof *n->v))) {
      abort ();
   }
   n->keep = keep ? keep : 1;
   return n;
}

void
api_newest_destroy (api_newest_t *n)
{
   if (!n) {
      return;
   }
   for (size_t i = 0; i < n->n; i++) {
      item_free (&n->v[i]);
   }
   free (n->v);
   free (n);
}

/* ---- entries -------------------------------------------------------------- */

void
api_newest_entry_set (api_newest_entry_t *e, const bson_t *doc, const cJSON *json)
{
   bson_iter_t it;
   bool dated = bson_iter_init_find (&it, doc, "created_at") && BSON_ITER_HOLDS_DATE_TIME (&it);
   e->ms = dated ? bson_iter_date_time (&it) : 0;
   e->id[0] = '\0';
   if (bson_iter_init_find (&it, doc, "id") && BSON_ITER_HOLDS_UTF8 (&it) &&
       strlen (bson_iter_utf8 (&it, NULL)) < sizeof e->id) {
      snprintf (e->id, sizeof e->id, "%s", bson_iter_utf8 (&it, NULL));
   }
   e->placed = dated && e->id[0];
   free (e->json);
   e->json = NULL;
   e->len = 0;
   if (json) {
      char *text = cJSON_PrintUnformatted (json);
      if (!text || !(e->json = strdup (text))) {
         abort ();
      }
      cJSON_free (text);
      e->len = strlen (e->json);
   }
}

void
api_newest_entry_clear (api_newest_entry_t *e)
{
   if (e) {
      free (e->json);
      memset (e, 0, sizeof *e);
   }
}

/* ---- collecting (threadpool) --------------------------------------------- */

static void
swap (item_t *a, item_t *b)
{
   item_t t = *a;
   *a = *b;
   *b = t;
}

static void
sift_down (api_newest_t *n, size_t i)
{
   for (;;) {
      size_t l = 2 * i + 1, r = l + 1, min = i;
      if (l < n->n && item_cmp (&n->v[l], &n->v[min]) < 0) {
         min = l;
      }
      if (r < n->n && item_cmp (&n->v[r], &n->v[min]) < 0) {
         min = r;
      }
      if (min == i) {
         return;
      }
      swap (&n->v[i], &n->v[min]);
      i = min;
   }
}

static void
sift_up (api_newest_t *n, size_t i)
{
   while (i > 0) {
      size_t parent = (i - 1) / 2;
      if (item_cmp (&n->v[i], &n->v[parent]) >= 0) {
         return;
      }
      swap (&n->v[i], &n->v[parent]);
      i = parent;
   }
}

bool
api_newest_add (api_newest_t *n, const bson_t *doc)
{
   bson_iter_t it;
   int64_t ms;
   const char *id;
   n->offered++;
   if (!bson_iter_init_find (&it, doc, "created_at") || !BSON_ITER_HOLDS_DATE_TIME (&it)) {
      n->odd = true;
      return true;
   }
   ms = bson_iter_date_time (&it);
   if (!bson_iter_init_find (&it, doc, "id") || !BSON_ITER_HOLDS_UTF8 (&it)) {
      n->odd = true;
      return true;
   }
   id = bson_iter_utf8 (&it, NULL);
   item_t fresh = {ms, NULL, NULL, NULL, 0};
   if (n->n == n->keep && key_cmp (ms, id, n->v[0].ms, n->v[0].id) <= 0) {
      return true; /* older than every kept ticket */
   }
   if (!(fresh.id = strdup (id)) || !(fresh.doc = bson_copy (doc))) {
      free (fresh.id);
      return false;
   }
   if (n->n < n->keep) {
      n->v[n->n++] = fresh;
      sift_up (n, n->n - 1);
   } else {
      item_free (&n->v[0]);
      n->v[0] = fresh;
      sift_down (n, 0);
   }
   return true;
}

static int
newest_first (const void *a, const void *b)
{
   return -item_cmp (a, b);
}

bool
api_newest_finish (api_newest_t *n)
{
   tk_error_t err;
   qsort (n->v, n->n, sizeof *n->v, newest_first);
   for (size_t i = 0; i < n->n; i++) {
      item_t *it = &n->v[i];
      cJSON *t = api_ticket_doc_json (it->doc, &err);
      bson_destroy (it->doc);
      it->doc = NULL;
      if (!t) {
         continue; /* the database path skips such a document too */
      }
      it->json = cJSON_PrintUnformatted (t);
      cJSON_Delete (t);
      if (!it->json) {
         return false;
      }
      it->len = strlen (it->json);
   }
   n->finished = true;
   n->complete = !n->odd && n->offered == n->n;
   return true;
}

size_t
api_newest_count (const api_newest_t *n)
{
   return n->n;
}

/* ---- the api's own writes (loop) ----------------------------------------- */

/* The index of the kept ticket with this id, n->n when none. A linear walk:
 * the window is at most `keep` tickets and a write is rare next to reads. */
static size_t
find_id (const api_newest_t *n, const char *id)
{
   size_t i = 0;
   while (i < n->n && strcmp (n->v[i].id, id) != 0) {
      i++;
   }
   return i;
}

static void
remove_at (api_newest_t *n, size_t i)
{
   item_free (&n->v[i]);
   memmove (&n->v[i], &n->v[i + 1], (n->n - i - 1) * sizeof *n->v);
   n->n--;
}

void
api_newest_remove (api_newest_t *n, const char *id)
{
   size_t i = find_id (n, id);
   if (i < n->n) {
      remove_at (n, i);
   }
}

/* Where a ticket with key (ms, id) goes in v (newest first): the index of
 * the first kept ticket older than it. */
static size_t
insert_at (const api_newest_t *n, int64_t ms, const char *id)
{
   size_t lo = 0, hi = n->n;
   while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (key_cmp (n->v[mid].ms, n->v[mid].id, ms, id) > 0) {
         lo = mid + 1;
      } else {
         hi = mid;
      }
   }
   return lo;
}

bool
api_newest_put (api_newest_t *n, bool placed, int64_t ms, const char *id, const char *json,
                size_t len)
{
   size_t i = id ? find_id (n, id) : n->n;
   char *copy = NULL;
   if (json && !(copy = malloc (len + 1))) {
      return false;
   }
   if (copy) {
      memcpy (copy, json, len);
      copy[len] = '\0';
   }
   if (placed && i < n->n && n->v[i].ms == ms) {
      /* The same key, so the same place: only the rendering changes. */
      free (n->v[i].json);
      n->v[i].json = copy;
      n->v[i].len = copy ? len : 0;
      return true;
   }
   if (i < n->n) {
      remove_at (n, i); /* its key changed: it moves (or leaves) */
   }
   if (!placed) {
      /* Without a date created_at or a string id the database path lists it
       * after every dated ticket: outside the window, which no longer holds
       * the whole collection. */
      free (copy);
      n->complete = false;
      return true;
   }
   if (!n->complete && (n->n == 0 || key_cmp (ms, id, n->v[n->n - 1].ms, n->v[n->n - 1].id) < 0)) {
      /* Older than the oldest kept ticket: the window is still the newest
       * n->n tickets without it. */
      free (copy);
      return true;
   }
   if (n->n == n->keep) {
      /* Full: the oldest kept ticket (or the new one, when it is older still)
       * leaves, and the window no longer holds the whole collection. */
      n->complete = false;
      if (key_cmp (ms, id, n->v[n->n - 1].ms, n->v[n->n - 1].id) < 0) {
         free (copy);
         return true;
      }
      remove_at (n, n->n - 1);
   }
   item_t fresh = {ms, strdup (id), NULL, copy, copy ? len : 0};
   if (!fresh.id) {
      free (copy);
      return false;
   }
   i = insert_at (n, ms, id);
   memmove (&n->v[i + 1], &n->v[i], (n->n - i) * sizeof *n->v);
   n->v[i] = fresh;
   n->n++;
   return true;
}

/* ---- pages (loop) -------------------------------------------------------- */

/* The index of the first kept ticket after the cursor of q (strictly older
 * in the listing's order), n->n when none. */
static size_t
page_start (const api_newest_t *n, const tk_query_t *q)
{
   if (!q->has_cursor) {
      return 0;
   }
   size_t lo = 0, hi = n->n;
   while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      /* v is newest first: skip while v[mid] is at or before the cursor. */
      if (key_cmp (n->v[mid].ms, n->v[mid].id, q->cursor_ms, q->cursor_id) >= 0) {
         lo = mid + 1;
      } else {
         hi = mid;
      }
   }
   return lo;
}

/* The page of items [first, end) (count of them renderable) as the list
 * route's JSON into b, with the cursor after last (NULL: no next page).
 * false when memory runs out. */
static bool
render_page (const api_newest_t *n, const tk_query_t *q, size_t first, size_t end, uint32_t count,
             const item_t *last, tk_buf_t *b)
{
   /* Reserved at once: the page is copied once, never regrown. */
   size_t need = 64;
   for (size_t j = first; j < end; j++) {
      need += n->v[j].len + 1;
   }
   bool ok = tk_buf_reserve (b, need) && tk_buf_append_str (b, "{\"items\":[");
   bool comma = false;
   for (size_t j = first; ok && j < end; j++) {
      if (!n->v[j].json) {
         continue;
      }
      ok = (!comma || tk_buf_append (b, ",", 1)) && tk_buf_append (b, n->v[j].json, n->v[j].len);
      comma = true;
   }
   /* The cursor is letters, digits, '.' and hex: nothing to escape. */
   char next[TK_QUERY_CURSOR_MAX];
   if (last && last->id[0] && tk_query_cursor_encode (q, last->ms, last->id, next, sizeof next)) {
      return ok && tk_buf_appendf (b, "],\"count\":%u,\"limit\":%u,\"next_cursor\":\"%s\"}",
                                   (unsigned) count, (unsigned) q->limit, next);
   }
   return ok && tk_buf_appendf (b, "],\"count\":%u,\"limit\":%u,\"next_cursor\":null}",
                                (unsigned) count, (unsigned) q->limit);
}

bool
api_newest_page (const api_newest_t *n, const tk_query_t *q, char **body, size_t *len,
                 uint32_t *returned)
{
   if (!n->finished || q->sort != TK_SORT_CREATED_DESC || !bson_empty (&q->filter)) {
      return false;
   }
   /* The same walk as the database path (routes_tickets.c, list_work): the
    * first `limit` renderable tickets after the cursor, and whether any
    * document follows them. */
   size_t i = page_start (n, q);
   uint32_t count = 0;
   bool more = false, decided = false;
   const item_t *last = NULL;
   size_t first = i, end = i;
   for (; i < n->n; i++) {
      if (count == q->limit) {
         more = true;
         decided = true;
         break;
      }
      if (n->v[i].json) {
         count++;
         last = &n->v[i];
      }
   }
   end = i;
   if (!decided && !n->complete) {
      return false; /* the page (or what follows it) lies past the window */
   }
   tk_buf_t b = TK_BUF_INIT;
   if (!render_page (n, q, first, end, count, more ? last : NULL, &b)) {
      tk_buf_destroy (&b);
      return false;
   }
   *body = tk_buf_steal (&b, len);
   *returned = count;
   return true;
}
