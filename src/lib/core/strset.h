/*
 * strset.h - a set of strings that keeps their order of insertion: an
 * export includes each referenced resource once, in the order the
 * members' records first name it (so the same data gives the same
 * files).  Open addressing, FNV-1a.
 */
#ifndef P2P_STRSET_H
#define P2P_STRSET_H

#include <stddef.h>
#include <stdint.h>

struct strset {
	char		**v;		/* the strings, in insertion order */
	size_t		  n;		/* how many */
	size_t		  cap;		/* room in v */
	uint32_t	 *slot;		/* index in v + 1, 0 empty */
	size_t		  nslot;	/* a power of two, > 2 n */
	size_t		  max;		/* most strings kept (0: no bound) */
};

/* An empty set holding at most max strings (0: no bound). */
void	 strset_init(struct strset *, size_t max);
/*
 * Adds a copy of s.  1 when added, 0 when it was there, 2 when the set
 * is full (not added), -1 when out of memory.
 */
int	 strset_add(struct strset *, const char *s);
/* Frees the strings and the set (which is empty again). */
void	 strset_free(struct strset *);

#endif
