#!/usr/bin/env bash
# sql_read_path.sh DB - the experiment behind docs/decisions/0017: the
# dashboard's filters and search answered from side tables kept next to
# FerretDB's own table for DB's `tickets` collection on the local stack's
# PostgreSQL, timed with EXPLAIN ANALYZE. Builds (and at the end drops) two
# tables in DB's schema:
#   <schema>.probe_list  one narrow row per ticket: the fields the filters and
#                        sorts read, B-tree, partial and GIN indexes;
#   <schema>.probe_text  the lower-cased text the search reads, a pg_trgm
#                        GIN index (written only when the text changes).
# Then it measures what a row trigger keeping probe_list in step costs an
# update (5,000 rows, with and without it).
#
# Fill DB first, e.g. with 100,000 tickets through FerretDB:
#   build/bin/tkbench seed mongodb://127.0.0.1:27017 DB 100000 0 \
#       --classified build/share/triage/model.bin services/classifier/corpus/train.ndjson
# and, for a million, PROBE_COPIES=9 copies it in SQL (new ids, dates moved).
# Read only by hand; not part of `make test` or `make bench` yet.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/local/env.sh
db=${1:?usage: sql_read_path.sh DB}
P=("$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$PG_DATABASE" -X -v ON_ERROR_STOP=1 -q)
S=$db
T=$("${P[@]}" -At -c "select _jsonb->>'table' from \"$S\"._ferretdb_database_metadata where _jsonb->>'_id' = 'tickets'")
[ -n "$T" ] || { echo "sql_read_path: no tickets collection in $db" >&2; exit 1; }
T="\"$S\".\"$T\""

if [ "${PROBE_COPIES:-0}" -gt 0 ]; then
  "${P[@]}" -c "insert into $T
    select jsonb_set(jsonb_set(jsonb_set(_jsonb, '{_id}', to_jsonb(nid)), '{id}', to_jsonb(nid)),
                     '{created_at}', to_jsonb((_jsonb->>'created_at')::bigint - k * 200000000::bigint))
      from (select _jsonb, k, _jsonb->>'id' || '-' || k as nid
              from $T, generate_series(1, ${PROBE_COPIES}) k) s"
fi

"${P[@]}" <<SQL
create extension if not exists pg_trgm;
drop table if exists "$S".probe_list, "$S".probe_text;
create table "$S".probe_list as select
   _jsonb->>'_id' collate "C" as id,
   (_jsonb->>'created_at')::bigint as created_at,
   (_jsonb->'processed') = 'true' as processed,
   (_jsonb->'processing_metadata'->>'processed_at')::bigint as processed_at,
   _jsonb->'classification'->>'priority' as priority,
   _jsonb->'classification'->>'sentiment' as sentiment,
   array(select jsonb_array_elements_text(case when jsonb_typeof(_jsonb->'classification'->'topic_tags') = 'array'
                                               then _jsonb->'classification'->'topic_tags' else '[]' end)) as topics,
   least((_jsonb->'confidence_scores'->>'topic')::float8, (_jsonb->'confidence_scores'->>'sentiment')::float8,
         (_jsonb->'confidence_scores'->>'priority')::float8) as conf_min,
   (_jsonb->'needs_review') = 'true' as needs_review,
   coalesce((_jsonb->>'processing_attempts')::int, 0) as attempts
  from $T;
create unique index on "$S".probe_list (id);
create index on "$S".probe_list (created_at desc, id desc);
create index on "$S".probe_list (processed_at desc nulls last, id desc);
create index on "$S".probe_list (priority, created_at desc, id desc);
create index on "$S".probe_list (sentiment, created_at desc, id desc);
create index on "$S".probe_list using gin (topics);
create index on "$S".probe_list (created_at) where needs_review;
create index on "$S".probe_list (created_at) where not processed and attempts > 0;
create table "$S".probe_text as select _jsonb->>'_id' collate "C" as id,
   lower(coalesce(_jsonb->>'subject', '') || chr(1) || coalesce(_jsonb->>'body', '')) as text from $T;
create unique index on "$S".probe_text (id);
create index on "$S".probe_text using gin (text gin_trgm_ops);
analyze "$S".probe_list;
analyze "$S".probe_text;
SQL

"${P[@]}" -At -c "select 'tickets: ' || count(*) from $T"
"${P[@]}" -At -c "select 'sizes (table + indexes): ferretdb ' || pg_size_pretty(pg_total_relation_size('$T'))
   || ', probe_list ' || pg_size_pretty(pg_total_relation_size('\"$S\".probe_list'))
   || ', probe_text ' || pg_size_pretty(pg_total_relation_size('\"$S\".probe_text'))"

page() { # NAME WHERE [ORDER]: a first page of 50 (+1), documents fetched by _id
  local ms
  ms=$("${P[@]}" -At -c "explain (analyze, costs off, timing off, summary on)
     select t._jsonb from (select l.id from \"$S\".probe_list l where $2
                           order by ${3:-l.created_at desc, l.id desc} limit 51) s
       join $T t on t._jsonb->'_id' = to_jsonb(s.id::text)" | sed -n 's/^Execution Time: //p')
  printf '%-40s %s\n' "$1" "$ms"
}
search() { # WORD: the search page, newest first
  local ms
  ms=$("${P[@]}" -At -c "explain (analyze, costs off, timing off, summary on)
     select l.id from \"$S\".probe_list l join \"$S\".probe_text x using (id)
      where x.text like '%$1%' order by l.created_at desc, l.id desc limit 51" | sed -n 's/^Execution Time: //p')
  printf '%-40s %s\n' "search '$1'" "$ms"
}
page "processed, P0" "l.processed and l.priority = 'P0 (High)'"
page "P1 and Frustrated" "l.priority = 'P1 (Medium)' and l.sentiment = 'Frustrated'"
page "topic SSO" "l.topics @> array['SSO']"
page "topic Glossary or Lineage, Angry" "l.topics && array['Glossary', 'Lineage'] and l.sentiment = 'Angry'"
page "unprocessed, oldest first" "not l.processed" "l.created_at, l.id"
page "processed, latest processed first" "l.processed" "l.processed_at desc nulls last, l.id desc"
page "a confidence below 0.5" "l.conf_min < 0.5"
page "needs review" "l.needs_review"
page "failed" "not l.processed and l.attempts > 0"
for w in refund data snowflake zzzq; do search "$w"; done

upd="update $T set _jsonb = jsonb_set(_jsonb, '{needs_review}', 'false')
      where _jsonb->'_id' in (select to_jsonb(id::text) from \"$S\".probe_list order by created_at limit 5000)"
"${P[@]}" <<SQL
create or replace function "$S".probe_sync() returns trigger language plpgsql as \$fn\$
begin
   delete from "$S".probe_list where id = old._jsonb->>'_id';
   insert into "$S".probe_list values (
      new._jsonb->>'_id', (new._jsonb->>'created_at')::bigint, (new._jsonb->'processed') = 'true',
      (new._jsonb->'processing_metadata'->>'processed_at')::bigint,
      new._jsonb->'classification'->>'priority', new._jsonb->'classification'->>'sentiment',
      array(select jsonb_array_elements_text(case when jsonb_typeof(new._jsonb->'classification'->'topic_tags') = 'array'
                                                  then new._jsonb->'classification'->'topic_tags' else '[]' end)),
      least((new._jsonb->'confidence_scores'->>'topic')::float8, (new._jsonb->'confidence_scores'->>'sentiment')::float8,
            (new._jsonb->'confidence_scores'->>'priority')::float8),
      (new._jsonb->'needs_review') = 'true', coalesce((new._jsonb->>'processing_attempts')::int, 0));
   return null;
end \$fn\$;
SQL
t0=$(date +%s%N); "${P[@]}" -c "$upd"; t1=$(date +%s%N)
"${P[@]}" -c "create trigger probe_sync after update on $T for each row execute function \"$S\".probe_sync()"
"${P[@]}" -c "$upd"; t2=$(date +%s%N)
"${P[@]}" -c "drop trigger probe_sync on $T; drop function \"$S\".probe_sync()"
echo "update of 5,000 tickets: $(( (t1 - t0) / 1000000 )) ms without the trigger, $(( (t2 - t1) / 1000000 )) ms with it"
"${P[@]}" -c "drop table \"$S\".probe_list, \"$S\".probe_text"
