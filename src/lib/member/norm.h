/*
 * norm.h - normalisation of names for member matching: case- and
 * accent-insensitive comparison ("José" = "JOSE"), punctuation and
 * spacing ignored ("O'Brien" = "obrien", "Mary Ann" = "maryann").
 * Used both when demographics are indexed at load time and when a
 * request is matched, so the two always agree.
 */
#ifndef P2P_NORM_H
#define P2P_NORM_H

#include <stddef.h>

/*
 * Writes the folded form of the UTF-8 string in (lowercase ASCII
 * letters and digits only) into out.  Letters outside Latin-1 and Latin
 * Extended-A are kept as their UTF-8 bytes.  Returns the length.
 */
size_t	 norm_name(const char *in, char *out, size_t outsz);

/* Normalises a gender code ("male", "M" -> "male"); "" if unknown. */
const char *norm_gender(const char *);

#endif
