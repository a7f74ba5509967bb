/* Unit tests for common/labelled.c: the three labelled-file formats and the
 * errors a bad file gives. */
#include "test_support.h"

#include "labelled.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char path[256];

static const char *
write_file (const char *ext, const char *text)
{
   char name[128];
   tk_test_unique_name ("labelled", name, sizeof name);
   snprintf (path, sizeof path, "/tmp/%s.%s", name, ext);
   FILE *f = fopen (path, "wb");
   assert_non_null (f);
   fputs (text, f);
   fclose (f);
   return path;
}

static void
test_csv_with_quotes_and_tags (void **state)
{
   (void) state;
   tk_error_t err = {0};
   const char *p = write_file ("csv", "priority,id,subject,body,topic_tags,sentiment,extra\r\n"
                                      "P0 (High),T-1,\"Okta, down\",\"line one\nline \"\"two\"\"\","
                                      "SSO; Connector ;,Angry,x\r\n"
                                      "P2 (Low),T-2,Glossary,question,Glossary,Curious,\r\n");
   tk_labelled_set_t *set = tk_labelled_load (p, &err);
   if (!set) {
      fail_msg ("%s", err.message);
   }
   size_t n;
   const tk_model_example_t *ex = tk_labelled_examples (set, &n);
   assert_int_equal (n, 2);
   assert_string_equal (ex[0].id, "T-1");
   assert_string_equal (ex[0].subject, "Okta, down");
   assert_string_equal (ex[0].body, "line one\nline \"two\"");
   assert_int_equal (ex[0].n_topic_tags, 2);
   assert_string_equal (ex[0].topic_tags[0], "SSO");
   assert_string_equal (ex[0].topic_tags[1], "Connector");
   assert_string_equal (ex[0].sentiment, "Angry");
   assert_string_equal (ex[0].priority, "P0 (High)");
   assert_string_equal (ex[1].topic_tags[0], "Glossary");
   tk_labelled_destroy (set);
   unlink (p);
}

static void
test_json_array_and_ndjson (void **state)
{
   (void) state;
   tk_error_t err = {0};
   const char *rec = "{\"id\":\"A\",\"subject\":\"S\",\"body\":\"Jürgen\",\"topic_tags\":[\"API/SDK\"],"
                     "\"sentiment\":\"Neutral\",\"priority\":\"P1 (Medium)\"}";
   char text[1024];
   snprintf (text, sizeof text, "  [%s, %s]\n", rec, rec);
   const char *p = write_file ("json", text);
   tk_labelled_set_t *set = tk_labelled_load (p, &err);
   assert_non_null (set);
   size_t n;
   const tk_model_example_t *ex = tk_labelled_examples (set, &n);
   assert_int_equal (n, 2);
   assert_string_equal (ex[1].body, "Jürgen");
   assert_string_equal (ex[1].topic_tags[0], "API/SDK");
   tk_labelled_destroy (set);
   unlink (p);

   snprintf (text, sizeof text, "%s\n\n%s\r\n%s", rec, rec, rec);
   p = write_file ("ndjson", text);
   set = tk_labelled_load (p, &err);
   assert_non_null (set);
   tk_labelled_examples (set, &n);
   assert_int_equal (n, 3);
   tk_labelled_destroy (set);
   unlink (p);
}

static void
test_bad_files_name_the_problem (void **state)
{
   (void) state;
   tk_error_t err = {0};
   const char *p = write_file ("csv", "id,subject,body,sentiment,priority\r\nT,s,b,Angry,P0\r\n");
   assert_null (tk_labelled_load (p, &err));
   assert_string_equal (err.field, "topic_tags");
   unlink (p);

   p = write_file ("ndjson", "{\"id\":\"A\",\"subject\":\"S\",\"body\":\"b\",\"topic_tags\":[\"SSO\"],"
                             "\"priority\":\"P0\"}\n");
   tk_error_clear (&err);
   assert_null (tk_labelled_load (p, &err));
   assert_string_equal (err.field, "sentiment");
   assert_non_null (strstr (err.message, ":1"));
   unlink (p);

   p = write_file ("ndjson", "{\"id\": \n");
   tk_error_clear (&err);
   assert_null (tk_labelled_load (p, &err));
   assert_int_equal (err.domain, TK_ERR_INVALID);
   unlink (p);

   p = write_file ("json", "");
   tk_error_clear (&err);
   assert_null (tk_labelled_load (p, &err));
   assert_int_equal (err.domain, TK_ERR_INVALID);
   unlink (p);

   tk_error_clear (&err);
   assert_null (tk_labelled_load ("/nonexistent/labelled.ndjson", &err));
   assert_int_equal (err.domain, TK_ERR_IO);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_csv_with_quotes_and_tags),
      cmocka_unit_test (test_json_array_and_ndjson),
      cmocka_unit_test (test_bad_files_name_the_problem),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
