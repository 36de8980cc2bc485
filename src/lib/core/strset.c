/*
 * strset.c - see strset.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/strset.h"

static uint32_t
hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of s, or of the empty slot where it would go. */
static size_t
find(const struct strset *set, const char *s)
{
	size_t	 i = hash(s) & (set->nslot - 1);

	while (set->slot[i] != 0 && strcmp(set->v[set->slot[i] - 1], s) != 0)
		i = (i + 1) & (set->nslot - 1);
	return i;
}

/* Doubles the slots (and makes the first ones); 0 or -1. */
static int
grow(struct strset *set)
{
	uint32_t	*old = set->slot;
	size_t		 oldn = set->nslot, i;

	set->nslot = oldn ? oldn * 2 : 64;
	if ((set->slot = calloc(set->nslot, sizeof(*set->slot))) == NULL) {
		set->slot = old;
		set->nslot = oldn;
		return -1;
	}
	for (i = 0; i < oldn; i++)
		if (old[i] != 0)
			set->slot[find(set, set->v[old[i] - 1])] = old[i];
	free(old);
	return 0;
}

void
strset_init(struct strset *set, size_t max)
{
	memset(set, 0, sizeof(*set));
	set->max = max;
}

int
strset_add(struct strset *set, const char *s)
{
	char	**nv;
	size_t	  i;

	if (set->nslot == 0 && grow(set) == -1)
		return -1;
	i = find(set, s);
	if (set->slot[i] != 0)
		return 0;
	if ((set->max > 0 && set->n >= set->max) || set->n >= UINT32_MAX - 1)
		return 2;
	if (set->n == set->cap) {
		if ((nv = reallocarray(set->v, set->cap ? set->cap * 2 : 64,
		    sizeof(*nv))) == NULL)
			return -1;
		set->v = nv;
		set->cap = set->cap ? set->cap * 2 : 64;
	}
	if ((set->v[set->n] = strdup(s)) == NULL)
		return -1;
	set->slot[i] = (uint32_t)++set->n;
	/* At most half full: probes stay short. */
	if (set->n * 2 > set->nslot && grow(set) == -1)
		return -1;
	return 1;
}

void
strset_free(struct strset *set)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	free(set->slot);
	strset_init(set, set->max);
}
