/* cmd_publish.c - `triagectl publish FILE`: publishes raw tickets to the
 * inbound topic, keyed by id, the way an upstream system would.
 *
 * Each row of the file (JSON, NDJSON or CSV, as for upload) is validated
 * with the same parser ingest uses; a valid row is published as the raw
 * ticket {"id","subject","body","created_at"?,"source"?}, an invalid one is
 * listed with its line and not published. librdkafka is used directly with
 * idempotence on and acks=all, and the command waits (rd_kafka_flush) until
 * every message is delivered or has failed: a command-line tool may block.
 *
 * Exit status: 0 when every row was delivered, 1 when a row was invalid or
 * a delivery failed, 2 on usage.
 */
#include "cli.h"
#include "cli_options.h"

#include "file_rows.h"
#include "messages.h"
#include "progress.h"
#include "upload_parse.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
   /* options */
   const char *format, *topic, *brokers;
   size_t show_rejects;
   bool quiet;
   rd_kafka_conf_t *conf; /* -X settings; NULL once rd_kafka_new took it */

   rd_kafka_t *rk;
   cli_progress_t bar;
   size_t total_lines;
   size_t rows, produced, invalid, listed;
   size_t delivered, failed;
   char first_error[256];
   bool stop;
} publish_t;

static void
on_delivery (rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
   (void) rk;
   publish_t *p = opaque;
   if (m->err) {
      if (p->failed++ == 0) {
         snprintf (p->first_error, sizeof p->first_error, "%s", rd_kafka_err2str (m->err));
      }
   } else {
      p->delivered++;
   }
}

static bool
on_row (const tk_upload_row_t *row, void *ud)
{
   publish_t *p = ud;
   p->rows++;
   if (!row->ticket) {
      if (p->invalid++ < p->show_rejects) {
         fprintf (stderr, "%sline %zu%s%s%s: %s: %s\n", p->bar.on ? "\r\033[K" : "", row->line,
                  row->id ? " (id " : "", row->id ? row->id : "", row->id ? ")" : "",
                  tk_upload_reason_name (row->reason), row->err->message);
         p->listed++;
      }
      return true;
   }
   tk_error_t err;
   size_t len = 0;
   char *json = tk_msg_inbound_build (row->ticket, &len, &err);
   bool ok = json != NULL;
   while (ok) {
      rd_kafka_resp_err_t e = rd_kafka_producev (
         p->rk, RD_KAFKA_V_TOPIC (p->topic),
         RD_KAFKA_V_KEY (row->ticket->id, strlen (row->ticket->id)),
         RD_KAFKA_V_VALUE (json, len), RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY),
         RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
         rd_kafka_poll (p->rk, 100); /* let deliveries drain the queue */
         continue;
      }
      if (e) {
         fprintf (stderr, "%striagectl publish: %s\n", p->bar.on ? "\n" : "", rd_kafka_err2str (e));
         ok = false;
         p->stop = true;
      }
      break;
   }
   if (ok) {
      p->produced++;
   }
   free (json);
   tk_ticket_destroy (row->ticket);
   rd_kafka_poll (p->rk, 0);
   char note[80];
   snprintf (note, sizeof note, "%zu sent, %zu delivered", p->produced, p->delivered);
   cli_progress_update (&p->bar, row->line, note);
   return !p->stop;
}

/* -X key=value: one librdkafka producer setting, into the conf. */
static bool
parse_kafka_setting (const char *arg, void *field, char *why, size_t cap)
{
   const char *eq = strchr (arg, '=');
   char key[256];
   if (!eq || (size_t) (eq - arg) >= sizeof key) {
      return false;
   }
   snprintf (key, sizeof key, "%.*s", (int) (eq - arg), arg);
   return rd_kafka_conf_set (*(rd_kafka_conf_t **) field, key, eq + 1, why, cap) ==
          RD_KAFKA_CONF_OK;
}

/* publish's options (cli_options.h), in the order --help lists them. */
static const cli_option_t publish_options[] = {
   {.name = "format", .arg = "F", .kind = CLI_OPT_STRING, CLI_FIELD (publish_t, format),
    .help = "json, ndjson or csv", .def = "from the extension"},
   {.name = "topic", .arg = "T", .kind = CLI_OPT_STRING, CLI_FIELD (publish_t, topic),
    .help = "topic", .env = "TRIAGE_TOPIC_INBOUND", .def = "tickets.inbound"},
   {.name = "brokers", .arg = "B", .kind = CLI_OPT_STRING, CLI_FIELD (publish_t, brokers),
    .help = "bootstrap servers", .env = "TRIAGE_KAFKA_BROKERS", .def = "127.0.0.1:9092"},
   {.short_name = 'X', .arg = "key=value", .kind = CLI_OPT_CUSTOM, CLI_FIELD (publish_t, conf),
    .parse = parse_kafka_setting, .must = "key=value, a librdkafka producer setting",
    .help = "a librdkafka producer setting, passed through"},
   {.name = "show-rejects", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (publish_t, show_rejects),
    .help = "invalid rows listed", .def = "20"},
   {.name = "quiet", .kind = CLI_OPT_FLAG, CLI_FIELD (publish_t, quiet), .help = "no progress bar"},
   {0},
};

static const cli_command_t publish_command = {
   .cmd = "publish",
   .synopsis = "[options] FILE",
   .description = "Publishes the tickets of FILE to the inbound topic, keyed by id, as an\n"
                  "upstream system would; triage-ingest consumes and stores them.\n"
                  "\n"
                  "Exit status: 0 all rows delivered, 1 a row invalid or not delivered, 2 usage.",
   .opts = publish_options,
};

/* Fills p's options (the environment's, then argv's), *path and *fmt from
 * argv; returns -1 to go on, else the exit status. */
static int
parse_args (int argc, char **argv, publish_t *p, const char **path, tk_upload_format_t *fmt)
{
   int first, rc;
   p->topic = getenv ("TRIAGE_TOPIC_INBOUND");
   p->brokers = getenv ("TRIAGE_KAFKA_BROKERS");
   if ((rc = cli_options_parse (&publish_command, p, argc, argv, &first)) >= 0) {
      return rc;
   }
   if (first != argc - 1) {
      fprintf (stderr, "triagectl publish: give one FILE\n\n");
      cli_options_usage (&publish_command, stderr);
      return 2;
   }
   *path = argv[first];
   if (!cli_parse_format (p->format, *path, fmt)) {
      fprintf (stderr, "triagectl publish: give --format json|ndjson|csv for %s\n", *path);
      return 2;
   }
   if (!p->topic || !*p->topic) {
      p->topic = "tickets.inbound";
   }
   if (!p->brokers || !*p->brokers) {
      p->brokers = "127.0.0.1:9092";
   }
   return -1;
}

/* The producer: an upstream publisher that must not lose or duplicate a
 * ticket on a retry, so idempotent, every replica acknowledging. p->conf
 * goes to the producer. false (said on stderr) when it cannot start. */
static bool
start_producer (publish_t *p)
{
   char errstr[512];
   if (rd_kafka_conf_set (p->conf, "bootstrap.servers", p->brokers, errstr, sizeof errstr) ||
       rd_kafka_conf_set (p->conf, "enable.idempotence", "true", errstr, sizeof errstr) ||
       rd_kafka_conf_set (p->conf, "linger.ms", "20", errstr, sizeof errstr)) {
      fprintf (stderr, "triagectl publish: %s\n", errstr);
      return false;
   }
   rd_kafka_conf_set_dr_msg_cb (p->conf, on_delivery);
   rd_kafka_conf_set_opaque (p->conf, p);
   if (!(p->rk = rd_kafka_new (RD_KAFKA_PRODUCER, p->conf, errstr, sizeof errstr))) {
      fprintf (stderr, "triagectl publish: %s\n", errstr);
      return false;
   }
   p->conf = NULL; /* rd_kafka_new took it */
   return true;
}

/* Waits (up to a minute) for every delivery, drawing the bar as they
 * arrive. */
static void
wait_for_deliveries (publish_t *p)
{
   char note[80];
   for (int waited = 0; rd_kafka_outq_len (p->rk) > 0 && waited < 600; waited++) {
      rd_kafka_flush (p->rk, 100);
      snprintf (note, sizeof note, "%zu sent, %zu delivered", p->produced, p->delivered);
      cli_progress_update (&p->bar, p->total_lines, note);
   }
   snprintf (note, sizeof note, "%zu sent, %zu delivered", p->produced, p->delivered);
   cli_progress_finish (&p->bar, p->total_lines, note);
}

/* Prints what was delivered, invalid and lost; returns how many rows were
 * sent but neither delivered nor reported failed. */
static size_t
print_summary (const publish_t *p)
{
   size_t undelivered = p->produced - p->delivered - p->failed;
   printf ("%zu rows: %zu delivered to %s, %zu invalid (not published)", p->rows, p->delivered,
           p->topic, p->invalid);
   if (p->failed || undelivered) {
      printf (", %zu not delivered%s%s", p->failed + undelivered, p->first_error[0] ? ": " : "",
              p->first_error);
   }
   printf ("\n");
   if (p->invalid > p->listed) {
      printf ("  ... and %zu more invalid rows (--show-rejects N lists more)\n",
              p->invalid - p->listed);
   }
   return undelivered;
}

int
cli_cmd_publish (int argc, char **argv)
{
   publish_t p = {.show_rejects = 20, .conf = rd_kafka_conf_new ()};
   int rc = 1;
   void *map = MAP_FAILED;
   size_t len = 0;
   int fd = -1;
   const char *path = NULL;
   tk_upload_format_t fmt;

   if ((rc = parse_args (argc, argv, &p, &path, &fmt)) >= 0) {
      goto done;
   }
   rc = 1;
   struct stat st;
   if ((fd = open (path, O_RDONLY | O_CLOEXEC)) < 0 || fstat (fd, &st) != 0) {
      fprintf (stderr, "triagectl publish: %s: %m\n", path);
      goto done;
   }
   len = (size_t) st.st_size;
   if (len && (map = mmap (NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
      fprintf (stderr, "triagectl publish: %s: %m\n", path);
      goto done;
   }
   const char *data = len ? map : "";
   p.total_lines = 1;
   for (const char *s = data, *e = data + len; (s = memchr (s, '\n', (size_t) (e - s))); s++) {
      p.total_lines++;
   }

   if (!start_producer (&p)) {
      goto done;
   }

   cli_progress_init (&p.bar, "publish", p.total_lines, !p.quiet);
   tk_error_t err;
   bool walked = tk_upload_parse (data, len, fmt, on_row, &p, NULL, &err);
   if (!walked && !p.stop) {
      fprintf (stderr, "%striagectl publish: %s\n", p.bar.on ? "\n" : "", err.message);
   }
   wait_for_deliveries (&p);
   size_t undelivered = print_summary (&p);
   rc = walked && !p.invalid && !p.failed && !undelivered ? 0 : 1;
done:
   if (p.rk) {
      rd_kafka_destroy (p.rk);
   }
   if (p.conf) {
      rd_kafka_conf_destroy (p.conf);
   }
   if (map != MAP_FAILED) {
      munmap (map, len);
   }
   if (fd >= 0) {
      close (fd);
   }
   return rc;
}
