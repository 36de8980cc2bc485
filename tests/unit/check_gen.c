/* Unit tests for gen.c: the synthetic data generator. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/fhir.h"
#include "gen.h"
#include "datascope/classify.h"
#include "json/jscan.h"
#include "json/valid.h"
#include "unit.h"

#define MEMBERS	12

static char *
generate(const struct gen_opts *o, size_t *len, struct gen_stats *st)
{
	struct p2p_err	 err;
	char		*buf = NULL;
	FILE		*f;

	p2p_err_init(&err);
	f = open_memstream(&buf, len);
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(gen_write(f, o, st, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

static void
opts(struct gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->members = MEMBERS;
	o->seed = 42;
	o->years = 7;
	memcpy(o->anchor, "2026-06-01", 11);
}

START_TEST(test_deterministic)
{
	struct gen_opts	 o;
	struct gen_stats st1, st2;
	size_t		 n1, n2, n3;
	char		*a, *b, *c;

	opts(&o);
	a = generate(&o, &n1, &st1);
	b = generate(&o, &n2, &st2);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(a, b, n1) == 0);
	ck_assert_uint_eq(st1.resources, st2.resources);
	ck_assert_uint_eq(st1.bytes, n1);
	o.seed = 43;
	c = generate(&o, &n3, NULL);
	ck_assert(n3 != n1 || memcmp(a, c, n1) != 0);
	free(c);
	/* member k does not depend on N: a prefix of the larger file */
	o.seed = 42;
	o.members = MEMBERS - 2;
	c = generate(&o, &n3, NULL);
	ck_assert(n3 < n1 && memcmp(a, c, n3) == 0);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* What scope_classify must say about each kind of generated PA. */
static void
check_pa(enum gen_pa k, const struct scope_info *info, const char *id)
{
	ck_assert_msg(info->flags & SCOPE_PA, "%s", id);
	ck_assert_msg(info->changed[0] != '\0', "%s", id);
	switch (k) {
	case GEN_PA_DENIED:
		ck_assert_msg(info->flags & SCOPE_EXCLUDED, "%s kind %d", id, k);
		break;
	case GEN_PA_DRUG:
		ck_assert_msg(info->flags & SCOPE_DRUG, "%s kind %d", id, k);
		break;
	case GEN_PA_PENDING:
		ck_assert_msg(!(info->flags & (SCOPE_EXCLUDED |
		    SCOPE_PA_CLOSED)), "%s", id);
		break;
	case GEN_PA_APPROVED:
	case GEN_PA_APPEAL:
		ck_assert_msg(!(info->flags & SCOPE_EXCLUDED), "%s", id);
		/* authorization period ends within the last year or later */
		ck_assert_msg(strcmp(info->changed, "2025-06-01") > 0, "%s %s",
		    id, info->changed);
		break;
	case GEN_PA_EXPIRED:
		ck_assert_msg(!(info->flags & SCOPE_EXCLUDED), "%s", id);
		ck_assert_msg(info->flags & SCOPE_PA_CLOSED, "%s", id);
		ck_assert_msg(strcmp(info->changed, "2024-06-01") < 0, "%s %s",
		    id, info->changed);
		break;
	default:
		ck_abort();
	}
}

START_TEST(test_content)
{
	struct gen_opts		 o;
	struct gen_stats	 st;
	struct scope_info	 info;
	struct p2p_err		 err;
	json_object		*r;
	unsigned long long	 by_type[GEN__MAX] = { 0 }, sens = 0, lines = 0;
	unsigned long long	 members = 0, pas = 0, kinds[GEN_PA__MAX] = { 0 };
	size_t			 len;
	char			*buf, *p, *nl, pid[32], prefix[40];
	const char		*type, *id, *use;
	int			 m = -1, pa_j = 0, patients = 0, coverages = 0;
	int			 t;
	struct jscan		 js;

	jscan_init(&js);
	opts(&o);
	buf = generate(&o, &len, &st);
	for (p = buf; p < buf + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		ck_assert_ptr_nonnull(nl);
		p2p_err_init(&err);
		ck_assert_msg(fhir_parse(p, (size_t)(nl - p), &r, &err) == 0,
		    "line %llu: %s", lines + 1, err.msg);
		lines++;
		type = fhir_type(r);
		id = fhir_id(r);
		ck_assert_ptr_nonnull(type);
		ck_assert_ptr_nonnull(id);
		ck_assert(strlen(id) <= 64);
		/* valid FHIR as the loader checks it, and classified */
		ck_assert_int_eq(jscan_parse(&js, p, (size_t)(nl - p), 0), 0);
		ck_assert_msg(fhir_check(&js, 1, NULL, &err) == 0,
		    "line %llu: %s", lines, err.msg);
		ck_assert_int_eq(unit_classify(fhir_json(r), 1, 1, &info), 0);
		sens += (info.flags & SCOPE_SENSITIVE) != 0;
		if (strcmp(type, "Patient") == 0) {
			/* a new member starts; the last one was complete */
			if (m >= 0) {
				ck_assert_int_eq(patients, 1);
				ck_assert_int_eq(coverages, 1);
			}
			m++;
			gen_member_id((unsigned long long)m, pid);
			ck_assert_str_eq(id, pid);
			snprintf(prefix, sizeof(prefix), "%s-", pid);
			patients = 1;
			coverages = 0;
			pa_j = 0;
			members++;
			ck_assert_ptr_nonnull(fhir_path_str(r,
			    "identifier.type.coding.code"));
			ck_assert_str_eq(fhir_path_str(r,
			    "identifier.type.coding.code"), "MB");
		} else if (strcmp(type, "Organization") == 0 ||
		    strcmp(type, "Practitioner") == 0) {
			ck_assert_int_eq(m, -1);	/* header first */
			ck_assert_str_eq(info.dos, "");
		} else {
			ck_assert_msg(strncmp(id, prefix, strlen(prefix)) == 0,
			    "%s outside %s", id, pid);
			if (strcmp(type, "Coverage") == 0) {
				coverages++;
				ck_assert_str_eq(fhir_path_str(r,
				    "beneficiary.reference") + 8, pid);
			} else
				ck_assert_msg(info.dos[0] != '\0' &&
				    strcmp(info.dos, "2026-12-31") < 0 &&
				    strcmp(info.dos, "2019-01-01") > 0,
				    "%s dos %s", id, info.dos);
		}
		use = fhir_str(r, "use");
		if (strcmp(type, "ExplanationOfBenefit") == 0 &&
		    strcmp(use, "preauthorization") == 0) {
			by_type[GEN_PA]++;
			check_pa((enum gen_pa)((m * 3 + pa_j) % GEN_PA__MAX),
			    &info, id);
			kinds[(m * 3 + pa_j) % GEN_PA__MAX]++;
			pa_j++;
			pas++;
		} else if (strcmp(type, "ExplanationOfBenefit") == 0) {
			by_type[GEN_EOB]++;
			/* every claim carried money and is released without */
			ck_assert(info.flags == SCOPE_FINANCIAL);
			ck_assert_ptr_nonnull(info.p2p_json);
			ck_assert(strstr(info.p2p_json, "-Basis\"") != NULL);
			ck_assert(strstr(info.p2p_json, "\"amount\"") == NULL);
			ck_assert(strstr(info.p2p_json, "\"net\"") == NULL);
		} else if (strcmp(type, "Condition") == 0)
			by_type[GEN_CONDITION]++;
		else if (strcmp(type, "Patient") == 0)
			by_type[GEN_PATIENT]++;
		scope_info_free(&info);
		json_object_put(r);
	}
	ck_assert_int_eq(patients, 1);
	ck_assert_int_eq(coverages, 1);
	ck_assert_uint_eq(members, MEMBERS);
	ck_assert_uint_eq(lines, st.resources);
	ck_assert_uint_eq(st.members, MEMBERS);
	ck_assert_uint_eq(st.by_type[GEN_PATIENT], MEMBERS);
	ck_assert_uint_eq(st.by_type[GEN_COVERAGE], MEMBERS);
	ck_assert_uint_eq(st.by_type[GEN_ORGANIZATION], 1 + GEN_PROVIDERS);
	ck_assert_uint_eq(st.by_type[GEN_PRACTITIONER], GEN_PRACTITIONERS);
	ck_assert_uint_eq(by_type[GEN_PA], st.by_type[GEN_PA]);
	ck_assert_uint_eq(by_type[GEN_EOB], st.by_type[GEN_EOB]);
	ck_assert_uint_eq(by_type[GEN_CONDITION], st.by_type[GEN_CONDITION]);
	ck_assert_uint_eq(pas, 3 * MEMBERS);
	for (t = 0; t < GEN_PA__MAX; t++)
		ck_assert_uint_eq(kinds[t], st.by_pa[t]);
	for (t = 0; t < GEN_PA__MAX; t++)
		ck_assert_uint_gt(kinds[t], 0);
	/* every fifth member has one labelled sensitive resource */
	ck_assert_uint_eq(sens, (MEMBERS + 4) / 5);
	ck_assert_uint_eq(sens, st.sensitive);
	/* 40-70 resources a member on average */
	ck_assert_uint_ge(st.resources, 40 * MEMBERS);
	ck_assert_uint_le(st.resources, 70 * MEMBERS + 20);
	jscan_free(&js);
	free(buf);
}
END_TEST

START_TEST(test_small)
{
	struct gen_opts	 o;
	struct gen_stats st;
	size_t		 len;
	char		*buf;

	opts(&o);
	o.small = 1;
	buf = generate(&o, &len, &st);
	ck_assert_uint_eq(st.by_type[GEN_PATIENT], MEMBERS);
	ck_assert_uint_eq(st.by_type[GEN_PA], 2 * MEMBERS);
	ck_assert_uint_lt(st.resources, 30 * MEMBERS);
	free(buf);
}
END_TEST

/* --history members: each member is a Patient and a Coverage only. */
START_TEST(test_members_only)
{
	struct gen_opts	 o;
	struct gen_stats st, hdr;
	size_t		 len, flen, n = 0;
	char		*buf, *full, *line, *nl;

	opts(&o);
	full = generate(&o, &flen, NULL);
	o.members = 0;
	free(generate(&o, &len, &hdr));
	o.members = MEMBERS;
	o.members_only = 1;
	buf = generate(&o, &len, &st);
	ck_assert_uint_eq(st.members, MEMBERS);
	ck_assert_uint_eq(st.by_type[GEN_PATIENT], MEMBERS);
	ck_assert_uint_eq(st.by_type[GEN_COVERAGE], MEMBERS);
	ck_assert_uint_eq(st.by_type[GEN_EOB], 0);
	ck_assert_uint_eq(st.by_type[GEN_CONDITION], 0);
	ck_assert_uint_eq(st.by_type[GEN_PA], 0);
	ck_assert_uint_eq(st.sensitive, 0);
	/* the header (Organizations, Practitioners) and two a member */
	ck_assert_uint_eq(st.resources, hdr.resources + 2 * MEMBERS);
	/* every line is also in the full history: the same members */
	for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		ck_assert_msg(strstr(full, line) != NULL, "%.80s", line);
		n++;
	}
	ck_assert_uint_eq(n, st.resources);
	free(buf);
	free(full);
}
END_TEST

START_TEST(test_payer)
{
	struct gen_opts	 o;
	size_t		 len;
	char		*buf;

	opts(&o);
	o.members = 0;
	buf = generate(&o, &len, NULL);
	ck_assert(strstr(buf, "\"value\":\"" GEN_PAYER_NPI "\"") != NULL);
	free(buf);
	o.payer_npi = "5555555555";
	o.payer_name = "Test Payer";
	buf = generate(&o, &len, NULL);
	ck_assert(strstr(buf, "\"value\":\"5555555555\"") != NULL);
	ck_assert(strstr(buf, "\"name\":\"Test Payer\"") != NULL);
	free(buf);
}
END_TEST

/* Refused options. */
static const struct {
	const char	*anchor, *npi, *name;
	int		 years;
	int		 line;
} bad[] = {
	{ "2026-13-01", NULL, NULL, 7, __LINE__ },
	{ "2026-06-01x", NULL, NULL, 7, __LINE__ },
	{ "26-06-01", NULL, NULL, 7, __LINE__ },
	{ "", NULL, NULL, 0, __LINE__ },
	{ "", NULL, NULL, 51, __LINE__ },
	{ "", "123", NULL, 7, __LINE__ },
	{ "", "12345678a0", NULL, 7, __LINE__ },
	{ "", NULL, "Bad \"name\"", 7, __LINE__ },
};

START_TEST(test_refused)
{
	struct gen_opts	 o;
	struct p2p_err	 err;
	struct gen	*g;

	opts(&o);
	snprintf(o.anchor, sizeof(o.anchor), "%s", bad[_i].anchor);
	if (strlen(bad[_i].anchor) >= sizeof(o.anchor))
		o.anchor[5] = 'x';	/* too long: truncated and broken */
	o.payer_npi = bad[_i].npi;
	o.payer_name = bad[_i].name;
	o.years = bad[_i].years;
	p2p_err_init(&err);
	g = gen_new(stdout, &o, &err);
	ck_assert_msg(g == NULL, "line %d accepted", bad[_i].line);
	ck_assert_int_eq(err.status, 400);
}
END_TEST

START_TEST(test_ids)
{
	char	 id[32];

	gen_member_id(0, id);
	ck_assert_str_eq(id, "syn-m000001");
	gen_member_id(999999, id);
	ck_assert_str_eq(id, "syn-m1000000");
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_deterministic),
		UNIT_TEST(test_content),
		UNIT_TEST(test_small),
		UNIT_TEST(test_members_only),
		UNIT_TEST(test_payer),
		UNIT_TABLE(test_refused, bad),
		UNIT_TEST(test_ids),
	};

	return unit_run(unit_tests("gen", NULL, NULL, 60, tests,
	    UNIT_N(tests)));
}
