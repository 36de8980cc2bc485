/*
 * gen.h - deterministic synthetic data (p2p-admin generate): payer and
 * provider Organizations, Practitioners, then per member a Patient, a
 * Coverage and a multi-year history of claims (ExplanationOfBenefit of
 * institutional, professional and pharmacy types with their financial
 * elements), prior authorizations, Encounters, Conditions, Observations,
 * MedicationRequests and Procedures, as ndjson the loader takes.
 *
 * Same options (seed, anchor, members, years, history) -> byte-identical
 * output.  Each member's content depends only on the seed and its index,
 * so member k is the same whatever N is.
 */
#ifndef P2P_GEN_H
#define P2P_GEN_H

#include <stdio.h>

#include "core/err.h"

enum gen_type {
	GEN_ORGANIZATION,
	GEN_PRACTITIONER,
	GEN_PATIENT,
	GEN_COVERAGE,
	GEN_EOB,		/* claims (use = claim) */
	GEN_PA,			/* ExplanationOfBenefit use = preauthorization */
	GEN_ENCOUNTER,
	GEN_CONDITION,
	GEN_OBSERVATION,
	GEN_MEDICATIONREQUEST,
	GEN_PROCEDURE,
	GEN__MAX
};

/* Kinds of prior authorization; member k gets kinds (3k + j) % 6. */
enum gen_pa {
	GEN_PA_APPROVED,	/* A1, authorization period ending later */
	GEN_PA_DENIED,		/* A3 + denialreason: excluded */
	GEN_PA_PENDING,		/* A4, outcome queued */
	GEN_PA_DRUG,		/* pharmacy, NDC: excluded */
	GEN_PA_APPEAL,		/* A3 then A1 on appeal: approved */
	GEN_PA_EXPIRED,		/* A1, period ended years ago: closed */
	GEN_PA__MAX
};

#define GEN_PROVIDERS		5	/* provider Organizations */
#define GEN_PRACTITIONERS	12

struct gen_opts {
	unsigned long long members;	/* how many */
	unsigned long long seed;	/* PRNG seed */
	int		 years;		/* history length (default 7) */
	int		 small;		/* --history small: ~20 a member */
	int		 members_only;	/* --history members: Patient and
					   Coverage only (member-match at
					   scale without the claims) */
	char		 anchor[11];	/* YYYY-MM-DD the history ends at;
					   "" = today (UTC) */
	const char	*payer_npi;	/* NULL: GEN_PAYER_NPI */
	const char	*payer_name;	/* NULL: "Synthetic Health Plan" */
};

#define GEN_PAYER_NPI	"1234567893"

struct gen_stats {
	unsigned long long members;
	unsigned long long resources;
	unsigned long long bytes;
	unsigned long long by_type[GEN__MAX];
	unsigned long long by_pa[GEN_PA__MAX];
	unsigned long long sensitive;	/* resources labelled sensitive */
};

struct gen;

/*
 * A generator writing to f (not closed by gen_free).  Validates opts;
 * returns NULL with err set (400 on bad options, 500 out of memory).
 */
struct gen	*gen_new(FILE *f, const struct gen_opts *, struct p2p_err *);
/* Writes the Organizations and Practitioners.  0, or -1 on I/O error. */
int		 gen_header(struct gen *, struct p2p_err *);
/* Writes member index (0-based; ids count from 1).  0 or -1. */
int		 gen_member(struct gen *, unsigned long long index,
		    struct p2p_err *);
/* Counts so far. */
const struct gen_stats *gen_stats(const struct gen *);
void		 gen_free(struct gen *);

/* Header, then members 0..members-1, then fflush.  0 or -1. */
int		 gen_write(FILE *, const struct gen_opts *, struct gen_stats *,
		    struct p2p_err *);

/* The resource id of member index (0-based): "syn-m000001"... */
void		 gen_member_id(unsigned long long index, char out[32]);

#endif
