/*
 * everything.h - Patient/$everything, synchronously (FHIR R4
 * operation-patient-everything; PDex payer-to-payer single member): one
 * page of a searchset Bundle of the member's released rows (release.h:
 * the same rules as the bulk export), the Organizations and
 * Practitioners they reference, and a PDex transmitter Provenance.
 * Pages are keyset pages in (type, rid) order: the next link carries
 * _cursor=Type.rid of the last row sent, so a page never repeats a row
 * and the page after the last is empty.
 */
#ifndef P2P_EVERYTHING_H
#define P2P_EVERYTHING_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "datascope/release.h"
#include "store/db.h"

#define EVERYTHING_COUNT_DEFAULT	500	/* rows per page (_count) */
#define EVERYTHING_COUNT_MAX		1000

/*
 * Parameter validators (struct p2p_param, web/op.h): _count, 1 to
 * EVERYTHING_COUNT_MAX; _cursor, as a next link carries it.  0, or -1
 * with a 400 value.
 */
int	 everything_count_valid(const char *name, const char *value,
	    struct p2p_err *);
int	 everything_cursor_valid(const char *name, const char *value,
	    struct p2p_err *);

/*
 * Writes the page of patient's record that params (_count, _cursor;
 * the narrowing ones are repeated in the links) asks for, released by
 * rules, into out (a Bundle as JSON text), and what it holds into
 * summary[n] for the audit trail ("$everything: Patient x1, ...").
 * 0, or -1 with err.
 */
int	 everything_page(struct p2p_db *, const struct p2p_config *,
	    const struct release_rules *, const char *patient,
	    const struct p2p_kvlist *params, struct p2p_buf *out,
	    char *summary, size_t n, struct p2p_err *);

#endif
