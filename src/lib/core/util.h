/*
 * util.h - small helpers shared by every concern: a growable byte
 * buffer, base64url, random identifiers, time stamps, percent-decoding
 * and key=value list parsing (query strings and form bodies).
 */
#ifndef P2P_UTIL_H
#define P2P_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct p2p_buf {
	char	*p;	/* NUL-terminated contents, or NULL when empty */
	size_t	 len;	/* bytes used, not counting the NUL */
	size_t	 cap;	/* bytes allocated */
};

/* Appends; returns 0 or -1 when out of memory. */
int	 buf_add(struct p2p_buf *, const void *, size_t);
int	 buf_puts(struct p2p_buf *, const char *);
int	 buf_printf(struct p2p_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its memory for reuse. */
void	 buf_reset(struct p2p_buf *);
/* Releases the memory. */
void	 buf_free(struct p2p_buf *);

/*
 * base64url without padding (RFC 7515 appendix C).  The encoder writes
 * a NUL-terminated string into out (size >= 4 * ceil(n / 3) + 1).
 * The decoder accepts padded or unpadded input in either alphabet and
 * returns a malloc'd buffer (caller frees) or NULL on bad input.
 */
void	 b64url_encode(const unsigned char *, size_t, char *out);
unsigned char *b64_decode(const char *, size_t, size_t *outlen);

/*
 * Decodes 2 * nbytes hex digits (either case) from in into out.
 * Returns 0, or -1 on a non-hex character.
 */
int	 hex_decode(const char *in, size_t nbytes, unsigned char *out);
/* The value of hex digit c (either case), or -1. */
int	 hex_val(int c);

/*
 * Length of the well-formed UTF-8 sequence starting at s, of which avail
 * (> 0) bytes may be read: 1 for ASCII, 2 to 4, or 0 when s does not
 * start one (RFC 3629: no overlong form, no surrogate, nothing above
 * U+10FFFF).
 */
size_t	 utf8_len(const unsigned char *s, size_t avail);

/* Fills out with 2 * nbytes lowercase hex chars of CSPRNG output + NUL. */
int	 rand_hex(char *out, size_t nbytes);

/* Wall-clock time in seconds / milliseconds. */
time_t	 now_sec(void);
int64_t	 now_ms(void);
/* Formats t as an RFC 3339 instant "2026-01-02T03:04:05Z" (21 bytes). */
void	 time_instant(time_t, char out[32]);
/* Formats t as a FHIR date "2026-01-02" (11 bytes). */
void	 time_date(time_t, char out[16]);
/* How much of a date and time a FHIR value gives (time_parse()). */
enum time_prec {
	TIME_YEAR,		/* YYYY */
	TIME_MONTH,		/* YYYY-MM */
	TIME_DAY,		/* YYYY-MM-DD: a FHIR date */
	TIME_SECOND,		/* YYYY-MM-DDThh:mm:ss[.f](Z|+hh:mm) */
};

/*
 * The one parser of FHIR R4 date, dateTime and instant values (FHIR R4
 * datatypes, regexes of date, dateTime and instant): YYYY, YYYY-MM,
 * YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm); year 0001
 * and later, real days of the month, seconds up to 60 (a leap second),
 * and a time zone offset from -14:00 to +14:00 with minutes below 60.
 * Partial dates resolve to their first moment, or with end != 0 to
 * their last second.  Returns 0 and sets *out (UTC seconds), or -1 when
 * the text is not such a value.
 */
int	 time_parse(const char *, int end, time_t *out);
/*
 * time_parse() that returns the precision given (enum time_prec)
 * instead of 0: a FHIR date is TIME_DAY or less, an instant exactly
 * TIME_SECOND.  out may be NULL: the text is only checked.
 */
int	 time_parse_prec(const char *, int end, time_t *out);

/*
 * Checks a FHIR R4 date (YYYY, YYYY-MM or YYYY-MM-DD: year 0001-9999, a
 * real month and day of that month, nothing else).  Returns its
 * precision, 1 (year), 2 (month) or 3 (day), or 0 when s is not one.
 */
int	 time_date_valid(const char *);

/*
 * Percent-decodes s in place ('+' becomes a space when plus != 0).
 * Returns -1 on a malformed escape or an embedded NUL.
 */
int	 url_decode(char *s, int plus);

/* Percent-encodes s for use in a URL query component. */
int	 url_encode(struct p2p_buf *, const char *s);

struct p2p_kv {
	char	*key;
	char	*val;
};

struct p2p_kvlist {
	struct p2p_kv	*kv;
	size_t		 n;
};

/*
 * Parses "a=1&b=2" (query strings, form bodies) into a list of decoded
 * pairs.  At most max pairs; returns -1 on malformed input or too many
 * pairs.  Free with kv_free().
 */
int	 kv_parse(struct p2p_kvlist *, const char *, size_t len, int plus,
	    size_t max);
void	 kv_free(struct p2p_kvlist *);
/* Appends a copy of (key, val).  0, or -1 when out of memory. */
int	 kv_add(struct p2p_kvlist *, const char *key, const char *val);
/* The value of the first pair named key, or NULL. */
const char *kv_get(const struct p2p_kvlist *, const char *key);
/* How many pairs are named key. */
size_t	 kv_count(const struct p2p_kvlist *, const char *key);

/*
 * Room for element n of the array *pp (each size bytes, *cap of them
 * allocated): grows it to first, then doubling, when n == *cap.  0, or
 * -1 when out of memory (*pp and *cap unchanged).
 */
int	 array_grow(void *pp, size_t n, size_t *cap, size_t size,
	    size_t first);

/* Names of an enum's values: names[k] when 0 <= k < n, else "?". */
const char *name_of(const char *const *names, int n, int k);
/* The value named s (NULL: none) among names[0 .. n-1], or -1. */
int	 name_index(const char *const *names, int n, const char *s);

/* strdup that tolerates NULL. */
char	*xstrdup(const char *);
/* Copies src (NULL: "") into dst of size sz: 0, or -1 when cut short. */
int	 str_copy(char *dst, size_t sz, const char *src);

/*
 * Strict decimal parse of a whole string into [min, max].
 * Returns 0 or -1.
 */
int	 parse_ll(const char *, long long min, long long max, long long *out);

#endif
