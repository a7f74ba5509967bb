/* ferretdb_doc.h - a document as FerretDB 1.x keeps it in PostgreSQL (the
 * `_jsonb` column of a collection's table), turned back into the BSON that
 * FerretDB itself would answer with.
 *
 * FerretDB 1.x stores each document as JSON with a type map under "$s":
 * {"$s": {"p": {field: {"t": type, ...}}, "$k": [keys in order]}, field:
 * value, ...}; a sub-document carries its own "$s" inside its field's
 * entry, an array lists its items' types under "i". Dates are milliseconds
 * since the epoch, ObjectIds 24 hex digits. The api's listing reads a
 * page's documents this way in one SQL statement instead of one FerretDB
 * find per document (docs/decisions/0017).
 *
 * Only the types a ticket can hold are read back: string, bool, null,
 * int, long, double, date, objectId, object and array. Any other type, a
 * number that JSON cannot carry exactly (an integer of 2^53 or more, a double
 * written as a string such as Infinity), a key listed in "$k" without a
 * value or a value without a type is refused: the caller then asks
 * FerretDB for that document, so nothing is ever rendered differently. */
#ifndef TK_FERRETDB_DOC_H
#define TK_FERRETDB_DOC_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Appends the fields of the stored document json (len bytes) to out, an
 * initialised empty document, in their stored order. false with err
 * (TK_ERR_UNSUPPORTED or TK_ERR_INVALID) when the text is not a document
 * this reader can reproduce exactly; out then holds a part of it. */
bool tk_ferretdb_doc_to_bson (const char *json, size_t len, bson_t *out, tk_error_t *err);

#endif
