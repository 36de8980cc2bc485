/*
 * util.c - see util.h.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/util.h"

static int
buf_grow(struct p2p_buf *b, size_t need)
{
	size_t	 cap;
	char	*p;

	if (b->len + need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + need + 1) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
buf_add(struct p2p_buf *b, const void *data, size_t n)
{
	if (buf_grow(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
buf_puts(struct p2p_buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_printf(struct p2p_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
buf_reset(struct p2p_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
buf_free(struct p2p_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t	 i;
	char	*o = out;

	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64url_chars[in[i] >> 2];
		*o++ = b64url_chars[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*o++ = b64url_chars[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*o++ = b64url_chars[in[i + 2] & 63];
	}
	if (n - i == 1) {
		*o++ = b64url_chars[in[i] >> 2];
		*o++ = b64url_chars[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		*o++ = b64url_chars[in[i] >> 2];
		*o++ = b64url_chars[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*o++ = b64url_chars[(in[i + 1] & 15) << 2];
	}
	*o = '\0';
}

static int
b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

unsigned char *
b64_decode(const char *in, size_t n, size_t *outlen)
{
	unsigned char	*out, *o;
	unsigned int	 acc = 0;
	int		 bits = 0, v;
	size_t		 i;

	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return NULL;
	if ((out = malloc(n * 3 / 4 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i < n; i++) {
		if ((v = b64_val((unsigned char)in[i])) < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (unsigned char)(acc >> bits);
		}
	}
	*outlen = (size_t)(o - out);
	return out;
}

int
rand_hex(char *out, size_t nbytes)
{
	unsigned char	 raw[64];
	size_t		 i;

	if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1)
		return -1;
	for (i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

time_t
now_sec(void)
{
	return time(NULL);
}

int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
time_instant(time_t t, char out[32])
{
	struct tm	 tm;

	/* %Y would write year 999 as "999": four digits always, so that
	   instants compare as text */
	gmtime_r(&t, &tm);
	strftime(out, 32, "%04Y-%m-%dT%H:%M:%SZ", &tm);
}

void
time_date(time_t t, char out[16])
{
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%04Y-%m-%d", &tm);	/* as time_instant() */
}

static int
digits(const char *s, int n, int *out)
{
	int	 i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

int
time_parse(const char *s, int end, time_t *out)
{
	return time_parse_prec(s, end, out) == -1 ? -1 : 0;
}

int
time_parse_prec(const char *s, int end, time_t *out)
{
	struct tm	 tm;
	int		 y, mo = 1, d = 1, h = 0, mi = 0, sec = 0;
	int		 oh, om, sign, prec = TIME_YEAR;
	size_t		 len;
	time_t		 t;

	if (s == NULL)
		return -1;
	len = strlen(s);
	if (len < 4 || digits(s, 4, &y) == -1 || y == 0)
		return -1;
	s += 4;
	if (*s == '-') {
		if (digits(s + 1, 2, &mo) == -1 || mo < 1 || mo > 12)
			return -1;
		s += 3;
		prec = TIME_MONTH;
		if (*s == '-') {
			if (digits(s + 1, 2, &d) == -1 || d < 1 ||
			    d > days_in_month(y, mo))
				return -1;
			s += 3;
			prec = TIME_DAY;
		}
	}
	if (*s == 'T') {
		if (prec != TIME_DAY || digits(s + 1, 2, &h) == -1 ||
		    s[3] != ':' || digits(s + 4, 2, &mi) == -1 || s[6] != ':' ||
		    digits(s + 7, 2, &sec) == -1 || h > 23 || mi > 59 ||
		    sec > 60)
			return -1;
		s += 9;
		prec = TIME_SECOND;
		if (*s == '.') {
			s++;
			if (!isdigit((unsigned char)*s))
				return -1;
			while (isdigit((unsigned char)*s))
				s++;
		}
		if (*s == 'Z') {
			s++;
			oh = om = 0;
			sign = 1;
		} else if (*s == '+' || *s == '-') {
			sign = *s == '+' ? 1 : -1;
			/* UTC-14:00 to UTC+14:00 (FHIR R4 dateTime regex) */
			if (digits(s + 1, 2, &oh) == -1 || s[3] != ':' ||
			    digits(s + 4, 2, &om) == -1 || om > 59 || oh > 14 ||
			    (oh == 14 && om != 0))
				return -1;
			s += 6;
		} else
			return -1;
	} else {
		oh = om = 0;
		sign = 1;
	}
	if (*s != '\0')
		return -1;
	if (out == NULL)	/* only checking */
		return prec;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if (end && prec < TIME_SECOND) {
		/* The last second of the year, month or day given. */
		if (prec == TIME_YEAR) {
			tm.tm_mon = 11;
			tm.tm_mday = 31;
		} else if (prec == TIME_MONTH)
			tm.tm_mday = days_in_month(y, mo);
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 59;
	}
	t = timegm(&tm);
	t -= sign * (oh * 3600 + om * 60);
	*out = t;
	return prec;
}

int
time_date_valid(const char *s)
{
	int	 y, mo, d;

	/* FHIR R4 date: YYYY(-MM(-DD)?)?, year 0001-9999, no time. */
	if (s == NULL || digits(s, 4, &y) == -1 || y < 1)
		return 0;
	if (s[4] == '\0')
		return 1;
	if (s[4] != '-' || digits(s + 5, 2, &mo) == -1 || mo < 1 || mo > 12)
		return 0;
	if (s[7] == '\0')
		return 2;
	if (s[7] != '-' || digits(s + 8, 2, &d) == -1 || d < 1 ||
	    d > days_in_month(y, mo) || s[10] != '\0')
		return 0;
	return 3;
}

int
hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char	 c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (avail < 3 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (avail < 4 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

int
hex_decode(const char *in, size_t nbytes, unsigned char *out)
{
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < nbytes; i++) {
		if ((hi = hex_val((unsigned char)in[2 * i])) < 0 ||
		    (lo = hex_val((unsigned char)in[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
url_decode(char *s, int plus)
{
	char	*o = s;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if ((hi = hex_val((unsigned char)s[1])) < 0 ||
			    (lo = hex_val((unsigned char)s[2])) < 0)
				return -1;
			if (hi == 0 && lo == 0)
				return -1;
			*o++ = (char)(hi * 16 + lo);
			s += 2;
		} else if (*s == '+' && plus)
			*o++ = ' ';
		else
			*o++ = *s;
	}
	*o = '\0';
	return 0;
}

int
url_encode(struct p2p_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char	 esc[3];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			if (buf_add(b, s, 1) == -1)
				return -1;
		} else {
			esc[0] = '%';
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 15];
			if (buf_add(b, esc, 3) == -1)
				return -1;
		}
	}
	return 0;
}

int
kv_parse(struct p2p_kvlist *l, const char *s, size_t len, int plus,
    size_t max)
{
	const char	*p, *end = s + len, *amp, *eq;
	struct p2p_kv	*kv;

	l->kv = NULL;
	l->n = 0;
	for (p = s; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p)
			continue;
		if (l->n == max)
			goto fail;
		if ((kv = realloc(l->kv, (l->n + 1) * sizeof(*kv))) == NULL)
			goto fail;
		l->kv = kv;
		kv = &l->kv[l->n];
		eq = memchr(p, '=', (size_t)(amp - p));
		kv->key = strndup(p, (size_t)((eq ? eq : amp) - p));
		kv->val = eq ? strndup(eq + 1, (size_t)(amp - eq - 1)) :
		    strdup("");
		l->n++;
		if (kv->key == NULL || kv->val == NULL ||
		    url_decode(kv->key, plus) == -1 ||
		    url_decode(kv->val, plus) == -1)
			goto fail;
		if (amp == end)
			break;
	}
	return 0;
fail:
	kv_free(l);
	return -1;
}

void
kv_free(struct p2p_kvlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free(l->kv[i].key);
		free(l->kv[i].val);
	}
	free(l->kv);
	l->kv = NULL;
	l->n = 0;
}

int
kv_add(struct p2p_kvlist *l, const char *key, const char *val)
{
	struct p2p_kv	*kv;
	char		*k, *v;

	if ((kv = realloc(l->kv, (l->n + 1) * sizeof(*kv))) == NULL)
		return -1;
	l->kv = kv;
	k = strdup(key);
	v = strdup(val);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return -1;
	}
	kv[l->n].key = k;
	kv[l->n].val = v;
	l->n++;
	return 0;
}

const char *
kv_get(const struct p2p_kvlist *l, const char *key)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			return l->kv[i].val;
	return NULL;
}

size_t
kv_count(const struct p2p_kvlist *l, const char *key)
{
	size_t	 i, n = 0;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			n++;
	return n;
}

int
str_copy(char *dst, size_t sz, const char *src)
{
	int	 n = snprintf(dst, sz, "%s", src != NULL ? src : "");

	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

int
array_grow(void *pp, size_t n, size_t *cap, size_t size, size_t first)
{
	void	**v = pp, *nv;
	size_t	 want;

	if (n < *cap)
		return 0;
	want = *cap ? *cap * 2 : (first ? first : 1);
	if (want < n + 1 || want > SIZE_MAX / size)
		return -1;
	if ((nv = realloc(*v, want * size)) == NULL)
		return -1;
	*v = nv;
	*cap = want;
	return 0;
}

const char *
name_of(const char *const *names, int n, int k)
{
	return k >= 0 && k < n ? names[k] : "?";
}

int
name_index(const char *const *names, int n, const char *s)
{
	int	 i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

char *
xstrdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

int
parse_ll(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
