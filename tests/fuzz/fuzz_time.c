/*
 * fuzz_time.c - FHIR date, dateTime and instant parsing (core/util.c:
 * time_parse()), which every consent period, _since, _until, start, end,
 * _typeFilter date and loaded meta.lastUpdated goes through, and the
 * export narrowing's forms of it (datascope/release.c: release_date(),
 * release_instant()).
 *
 * The start (end = 0) and end (end = 1) readings agree on validity and
 * are ordered, at most a year apart; an instant formatted by
 * time_instant() reads back as itself; release_date() and
 * release_instant() accept what time_parse() accepts (up to 40 bytes)
 * and write a day YYYY-MM-DD or an instant YYYY-MM-DDThh:mm:ssZ.
 */
#include <ctype.h>

#include "fuzz.h"
#include "core/util.h"
#include "datascope/release.h"

static int
shaped(const char *s, const char *form)
{
	for (; *form != '\0'; s++, form++)
		if (*form == '9' ? !isdigit((unsigned char)*s) : *s != *form)
			return 0;
	return *s == '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p2p_err	 err;
	char		*s = fuzz_str(data, size), inst[32], day[16];
	time_t		 t0, t1, t2;
	size_t		 n;
	int		 a, b;

	a = time_parse(s, 0, &t0);
	b = time_parse(s, 1, &t1);
	if (a != b)
		fuzz_fail("start and end readings disagree on validity");
	if (a == 0) {
		if (t1 < t0 || t1 - t0 > 366 * 86400)
			fuzz_fail("end %lld before start %lld, or more than "
			    "a year after", (long long)t1, (long long)t0);
		time_instant(t0, inst);
		/* years of four digits format back as they parse */
		if (shaped(inst, "9999-99-99T99:99:99Z") &&
		    (time_parse(inst, 0, &t2) == -1 || t2 != t0))
			fuzz_fail("%s does not read back", inst);
	}
	p2p_err_init(&err);
	if (release_date(s, 0, day, "start", &err) == 0) {
		if (a != 0 || strlen(s) > 40)
			fuzz_fail("release_date() accepted what time_parse() "
			    "refuses");
		if (!shaped(day, "9999-99-99"))
			fuzz_fail("release_date() wrote %s", day);
	} else if (a == 0 && strlen(s) <= 40)
		fuzz_fail("release_date() refused a valid date");
	p2p_err_init(&err);
	if (release_date(s, 1, day, "end", &err) == 0 &&
	    !shaped(day, "9999-99-99"))
		fuzz_fail("release_date(end) wrote %s", day);
	p2p_err_init(&err);
	if (release_instant(s, inst, "_since", &err) == 0 && (a != 0 ||
	    (n = strlen(inst)) < 20 || inst[n - 10] != 'T' ||
	    !shaped(inst + n - 15, "99-99T99:99:99Z")))
		fuzz_fail("release_instant() wrote %s", inst);
	free(s);
	return 0;
}
