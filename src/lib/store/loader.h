/*
 * loader.h - loading files of FHIR R4 JSON into the store.
 *
 * A file is either one Bundle (type transaction, batch or collection)
 * or ndjson (one resource a line, read as a stream in constant memory).
 * Each file loads in one BEGIN IMMEDIATE transaction: all of it or,
 * on the first bad entry or line, none of it, with an error naming the
 * place ("entry[3]: ...", "line 17: ...") and what is wrong.
 */
#ifndef P2P_LOADER_H
#define P2P_LOADER_H

#include <stdio.h>

#include "core/err.h"
#include "core/util.h"
#include "store/db.h"
#include "store/store.h"

#define LOAD_LINE_MAX	(16L * 1024 * 1024)	/* longest ndjson line */
#define LOAD_BUNDLE_MAX	(256L * 1024 * 1024)	/* largest Bundle file */
#define LOAD_TYPES_MAX	64			/* types counted apart */

/* How to read the input. */
enum load_format {
	LOAD_AUTO,	/* ndjson when the first line is a whole resource
			   other than a Bundle, else one Bundle document */
	LOAD_NDJSON,	/* one resource a line (files named *.ndjson) */
	LOAD_BUNDLE,	/* one Bundle document */
};

struct load_count {
	char	 type[65];	/* resourceType */
	long	 n;		/* stored or deleted */
};

struct load_stats {
	struct load_count type[LOAD_TYPES_MAX];	/* resources, by type */
	size_t	 ntype;			/* slots used */
	long	 other;			/* resources of types past the table */
	long	 resources;		/* upserted into table resource */
	long	 clients;		/* Client: OAuth clients registered */
	long	 consents;		/* Consent: into table consent */
	long	 ignored;		/* AccessPolicy */
	long	 deleted;		/* DELETE entries */
	int	 ndjson;		/* the file was read as ndjson */
	long	 scanned;		/* ndjson lines prepared without a
					   json-c tree (the fast path) */
	int	 first;			/* ndjson into empty tables: secondary
					   indexes built after the rows
					   (store/firstload.h) */
	double	 seconds;		/* wall-clock time of the load */
};

/*
 * Loads the file at path (format from its name: *.ndjson / *.jsonl are
 * ndjson, anything else LOAD_AUTO).  progress: 0 none;
 * LOAD_PROGRESS_TTY a line redrawn in place on stderr (a terminal);
 * N > 0 a plain line on stderr at most every N ms ("load NAME: 42%,
 * 12000 resources, 95000/s, ETA 3s", see load_progress_text()).
 * Returns 0 with stats filled, or -1 with err set and nothing from the
 * file kept.
 */
#define LOAD_PROGRESS_TTY	(-1)
int	 load_file(struct p2p_db *, const char *path, int progress,
	    struct load_stats *, struct p2p_err *);

/* Like load_file() on an open stream; name is used in progress lines. */
int	 load_stream(struct p2p_db *, FILE *, const char *name,
	    enum load_format, int progress, struct load_stats *,
	    struct p2p_err *);

/*
 * The text of a progress line: "P%, N resources, R/s, ETA T" (done
 * and total in any one unit; without a total, only the counts).
 */
void	 load_progress_text(char *out, size_t sz, long long done,
	    long long total, long resources, int64_t elapsed_ms);

/*
 * Appends a one-line summary of stats to out: counts by type, clients,
 * consents, what was ignored, seconds and resources per second.
 */
int	 load_summary(const struct load_stats *, struct p2p_buf *out);

#endif
