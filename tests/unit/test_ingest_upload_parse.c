/* Upload parsing (common/upload_parse.c): each format split into rows with
 * the right line numbers, bad rows reported beside good ones, whole-body
 * failures named. */
#include "test_support.h"

#include "upload_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 32

typedef struct {
   size_t n;
   size_t line[MAX_ROWS];
   bool ok[MAX_ROWS];
   char id[MAX_ROWS][64];
   char subject[MAX_ROWS][128];
   char body[MAX_ROWS][128];
   tk_upload_reason_t reason[MAX_ROWS];
   char message[MAX_ROWS][256];
   char field[MAX_ROWS][64];
   size_t stop_after; /* 0: never */
} rows_t;

static bool
collect (const tk_upload_row_t *row, void *ud)
{
   rows_t *r = ud;
   assert_true (r->n < MAX_ROWS);
   assert_int_equal (row->index, r->n);
   size_t i = r->n++;
   r->line[i] = row->line;
   r->ok[i] = row->ticket != NULL;
   snprintf (r->id[i], sizeof r->id[i], "%s", row->id ? row->id : "");
   if (row->ticket) {
      snprintf (r->subject[i], sizeof r->subject[i], "%s", row->ticket->subject);
      snprintf (r->body[i], sizeof r->body[i], "%s", row->ticket->body);
      tk_ticket_destroy (row->ticket);
   } else {
      r->reason[i] = row->reason;
      snprintf (r->message[i], sizeof r->message[i], "%s", row->err->message);
      snprintf (r->field[i], sizeof r->field[i], "%s", row->err->field);
   }
   return !(r->stop_after && r->n == r->stop_after);
}

static bool
parse (const char *text, tk_upload_format_t fmt, rows_t *r, tk_upload_summary_t *sum,
       tk_error_t *err)
{
   memset (r, 0, sizeof *r);
   return tk_upload_parse (text, strlen (text), fmt, collect, r, sum, err);
}

static void
test_content_types (void **state)
{
   (void) state;
   tk_upload_format_t f;
   assert_true (tk_upload_format_from_content_type ("application/json", &f));
   assert_int_equal (f, TK_UPLOAD_JSON);
   assert_true (tk_upload_format_from_content_type ("Application/X-NDJSON; charset=utf-8", &f));
   assert_int_equal (f, TK_UPLOAD_NDJSON);
   assert_true (tk_upload_format_from_content_type ("text/csv;header=present", &f));
   assert_int_equal (f, TK_UPLOAD_CSV);
   assert_false (tk_upload_format_from_content_type ("text/plain", &f));
   assert_false (tk_upload_format_from_content_type ("application/jsonx", &f));
   assert_false (tk_upload_format_from_content_type (NULL, &f));
   assert_true (tk_upload_format_from_filename ("/tmp/a.JSONL", &f));
   assert_int_equal (f, TK_UPLOAD_NDJSON);
   assert_false (tk_upload_format_from_filename ("tickets.txt", &f));
}

static void
test_json_array_lines_and_bad_rows (void **state)
{
   (void) state;
   const char *text = "[\n"
                      "  {\"id\":\"A-1\",\"subject\":\"s1\",\"body\":\"b, with [brackets] and \\\"quotes\\\"\"},\n"
                      "  {\"id\":\"A-2\",\"subject\":\"s2\"},\n"
                      "  42,\n"
                      "  {\"id\":\"A-3\", \"subject\": \"x\" \"y\"},\n"
                      "  {\"id\":\"A-4\",\n"
                      "   \"subject\":\"multi\",\n"
                      "   \"body\":\"line\"}\n"
                      "]\n";
   rows_t r;
   tk_upload_summary_t sum;
   tk_error_t err;
   assert_true (parse (text, TK_UPLOAD_JSON, &r, &sum, &err));
   assert_false (sum.single_object);
   assert_int_equal (sum.rows, 5);
   assert_int_equal (r.n, 5);
   assert_true (r.ok[0]);
   assert_int_equal (r.line[0], 2);
   assert_string_equal (r.body[0], "b, with [brackets] and \"quotes\"");
   assert_false (r.ok[1]);
   assert_int_equal (r.line[1], 3);
   assert_int_equal (r.reason[1], TK_UPLOAD_REASON_INVALID);
   assert_string_equal (r.field[1], "body");
   assert_string_equal (r.id[1], "A-2");
   assert_false (r.ok[2]);
   assert_int_equal (r.reason[2], TK_UPLOAD_REASON_NOT_OBJECT);
   assert_false (r.ok[3]);
   assert_int_equal (r.line[3], 5);
   assert_int_equal (r.reason[3], TK_UPLOAD_REASON_MALFORMED);
   assert_true (r.ok[4]);
   assert_int_equal (r.line[4], 6);
   assert_string_equal (r.id[4], "A-4");
}

static void
test_json_single_object_and_whole_body_errors (void **state)
{
   (void) state;
   rows_t r;
   tk_upload_summary_t sum;
   tk_error_t err;
   assert_true (parse ("\n {\"id\":7,\"subject\":\"s\",\"body\":\"b\"}", TK_UPLOAD_JSON, &r, &sum,
                       &err));
   assert_true (sum.single_object);
   assert_int_equal (r.n, 1);
   assert_true (r.ok[0]);
   assert_string_equal (r.id[0], "7");
   assert_int_equal (r.line[0], 2);

   assert_true (parse ("[]", TK_UPLOAD_JSON, &r, &sum, &err));
   assert_int_equal (r.n, 0);

   assert_false (parse ("", TK_UPLOAD_JSON, &r, &sum, &err));
   assert_non_null (strstr (err.message, "empty"));
   assert_false (parse ("\"text\"", TK_UPLOAD_JSON, &r, &sum, &err));
   assert_non_null (strstr (err.message, "line 1"));
   assert_false (parse ("[{\"id\":\"x\",\"subject\":\"s\",\"body\":\"b\"},\n{\"id\":\"y", TK_UPLOAD_JSON,
                        &r, &sum, &err));
   assert_non_null (strstr (err.message, "line 2"));
   assert_int_equal (r.n, 1); /* the good row before the break was still reported */
   assert_false (parse ("[] []", TK_UPLOAD_JSON, &r, &sum, &err));
}

static void
test_ndjson (void **state)
{
   (void) state;
   const char *text = "{\"id\":\"N-1\",\"subject\":\"s\",\"body\":\"b\"}\r\n"
                      "\n"
                      "not json\n"
                      "{\"id\":\"N-2\",\"subject\":\"s\",\"body\":\"b\",\"created_at\":\"yesterday\"}\n"
                      "{\"id\":\"N-3\",\"subject\":\"s\",\"body\":\"b\"}";
   rows_t r;
   tk_error_t err;
   assert_true (parse (text, TK_UPLOAD_NDJSON, &r, NULL, &err));
   assert_int_equal (r.n, 4);
   assert_true (r.ok[0]);
   assert_int_equal (r.line[0], 1);
   assert_false (r.ok[1]);
   assert_int_equal (r.line[1], 3);
   assert_int_equal (r.reason[1], TK_UPLOAD_REASON_MALFORMED);
   assert_false (r.ok[2]);
   assert_int_equal (r.line[2], 4);
   assert_string_equal (r.field[2], "created_at");
   assert_true (r.ok[3]);
   assert_int_equal (r.line[3], 5);
}

static void
test_csv_quotes_newlines_and_bad_rows (void **state)
{
   (void) state;
   const char *text = "\xEF\xBB\xBFId,subject,body,extra\r\n"
                      "C-1,\"Hello, world\",\"first line\nsecond line\",x\r\n"
                      "\r\n"
                      "C-2,short row\r\n"
                      "C-3,\"quoted \"\"word\"\"\",body three,y\r\n"
                      ",no id,body,z\r\n"
                      "C-4,s,\"b\",w";
   rows_t r;
   tk_error_t err;
   assert_true (parse (text, TK_UPLOAD_CSV, &r, NULL, &err));
   assert_int_equal (r.n, 5);
   assert_true (r.ok[0]);
   assert_int_equal (r.line[0], 2);
   assert_string_equal (r.subject[0], "Hello, world");
   assert_string_equal (r.body[0], "first line\nsecond line");
   assert_false (r.ok[1]);
   assert_int_equal (r.line[1], 5);
   assert_int_equal (r.reason[1], TK_UPLOAD_REASON_COLUMNS);
   assert_string_equal (r.id[1], "C-2");
   assert_true (r.ok[2]);
   assert_int_equal (r.line[2], 6);
   assert_string_equal (r.subject[2], "quoted \"word\"");
   assert_false (r.ok[3]);
   assert_int_equal (r.line[3], 7);
   assert_string_equal (r.field[3], "id");
   assert_true (r.ok[4]);
   assert_int_equal (r.line[4], 8);
}

static void
test_csv_whole_body_errors (void **state)
{
   (void) state;
   rows_t r;
   tk_error_t err;
   assert_false (parse ("id,subject\nA,b\n", TK_UPLOAD_CSV, &r, NULL, &err));
   assert_non_null (strstr (err.message, "\"body\""));
   assert_false (parse ("", TK_UPLOAD_CSV, &r, NULL, &err));
   assert_false (parse ("id,\"subject\nA,s,b\n", TK_UPLOAD_CSV, &r, NULL, &err));
   assert_non_null (strstr (err.message, "line 1"));
   assert_false (parse ("id,sub\"ject,body\nA,s,b\n", TK_UPLOAD_CSV, &r, NULL, &err));
   assert_non_null (strstr (err.message, "the header row"));
   assert_false (parse ("id,ID,subject,body\n", TK_UPLOAD_CSV, &r, NULL, &err));
}

/* A misplaced quote refuses its row, with its line and why, and never
 * merges rows: the rows an unclosed quote would swallow are read on their
 * own. */
static void
test_csv_misplaced_quotes (void **state)
{
   (void) state;
   const char *text = "id,subject,body\n"
                      "t1,\"subject \"with\" quotes\",body\n"
                      "t2,ok,fine\n"
                      "t3,a 24\" screen,body\n"
                      "t4,\"unclosed subject,body\n"
                      "t5,ok,fine\n"
                      "t6,\"quoted\",fine\n"
                      "t7,\"never closed,x\n"
                      "t8,a,b\n";
   rows_t r;
   tk_error_t err;
   assert_true (parse (text, TK_UPLOAD_CSV, &r, NULL, &err));
   assert_int_equal (r.n, 8);
   const bool ok[8] = {false, true, false, false, true, true, false, true};
   for (size_t i = 0; i < 8; i++) {
      char id[8];
      snprintf (id, sizeof id, "t%zu", i + 1);
      assert_int_equal (r.ok[i], ok[i]);
      assert_int_equal (r.line[i], i + 2);
      assert_string_equal (r.id[i], id);
      if (!ok[i]) {
         assert_int_equal (r.reason[i], TK_UPLOAD_REASON_MALFORMED);
      }
   }
   assert_non_null (strstr (r.message[0], "line 2: a quote in the middle of a quoted field"));
   assert_non_null (strstr (r.message[2], "line 4: a quote inside a field that does not start"));
   assert_non_null (strstr (r.message[3], "line 5: a quoted field is not closed"));
   assert_non_null (strstr (r.message[3], "line 7"));
   assert_non_null (strstr (r.message[6], "line 8: a quoted field is not closed before the end"));
   assert_string_equal (r.subject[4], "ok");
   assert_string_equal (r.subject[5], "quoted");
}

/* Binary files are told by their first bytes, whatever the Content-Type. */
static void
test_sniff_binary (void **state)
{
   (void) state;
   const char *what = NULL;
   const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
   assert_true (tk_upload_sniff_binary (png, sizeof png - 1, &what));
   assert_string_equal (what, "a PNG image");
   assert_true (tk_upload_sniff_binary ("%PDF-1.7\n", 9, &what));
   assert_string_equal (what, "a PDF document");
   assert_true (tk_upload_sniff_binary ("PK\x03\x04rest", 8, &what));
   const char blob[] = "\x01\0\0\0\x02\0\0\0some data\0\0\0\x03";
   assert_true (tk_upload_sniff_binary (blob, sizeof blob - 1, &what));
   assert_non_null (strstr (what, "NUL"));
   /* One stray NUL is a bad row's, refused by the parse, not the file's. */
   const char stray[] = "id,subject,body\nA,s\0,b\nB,second row,its body\n";
   assert_false (tk_upload_sniff_binary (stray, sizeof stray - 1, &what));
   const char *texts[] = {"id,subject,body\nA,s,b\n", "[{\"id\":\"1\"}]", "\xEF\xBB\xBFid,x\n",
                          "", "{\"id\":\"caf\xc3\xa9\"}\n"};
   for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
      assert_false (tk_upload_sniff_binary (texts[i], strlen (texts[i]), &what));
   }
}

static void
test_stop_early (void **state)
{
   (void) state;
   rows_t r;
   memset (&r, 0, sizeof r);
   r.stop_after = 1;
   const char *text = "{\"id\":\"1\",\"subject\":\"s\",\"body\":\"b\"}\n{\"id\":\"2\",\"subject\":\"s\",\"body\":\"b\"}\n";
   tk_error_t err;
   assert_false (tk_upload_parse (text, strlen (text), TK_UPLOAD_NDJSON, collect, &r, NULL, &err));
   assert_int_equal (r.n, 1);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_content_types),
      cmocka_unit_test (test_json_array_lines_and_bad_rows),
      cmocka_unit_test (test_json_single_object_and_whole_body_errors),
      cmocka_unit_test (test_ndjson),
      cmocka_unit_test (test_csv_quotes_newlines_and_bad_rows),
      cmocka_unit_test (test_csv_whole_body_errors),
      cmocka_unit_test (test_csv_misplaced_quotes),
      cmocka_unit_test (test_sniff_binary),
      cmocka_unit_test (test_stop_early),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
