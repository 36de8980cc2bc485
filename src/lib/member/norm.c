/*
 * norm.c - see norm.h.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "member/norm.h"

/*
 * Base letters of U+00C0..U+017F (Latin-1 Supplement letters and Latin
 * Extended-A), 0 for the few that are not letters.  Ligatures and the
 * German sharp s map to their first letter ("ß" -> "s" keeps matching
 * deterministic; both sides are folded the same way).
 */
static const char latin[192] =
    /* 0C0 */ "aaaaaaaceeeeiiii"
    /* 0D0 */ "dnooooo\0ouuuuyts"
    /* 0E0 */ "aaaaaaaceeeeiiii"
    /* 0F0 */ "dnooooo\0ouuuuyty"
    /* 100 */ "aaaaaaccccccccdd"
    /* 110 */ "ddeeeeeeeeeegggg"
    /* 120 */ "gggghhhhiiiiiiii"
    /* 130 */ "iiiijjkkklllllll"
    /* 140 */ "lllnnnnnnnnnoooo"
    /* 150 */ "oooorrrrrrssssss"
    /* 160 */ "ssttttttuuuuuuuu"
    /* 170 */ "uuuuwwyyyzzzzzzs";

size_t
norm_name(const char *in, char *out, size_t outsz)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 n = 0;
	unsigned int		 cp;
	char			 c;

	if (outsz == 0)
		return 0;
	while (*s != '\0' && n + 1 < outsz) {
		if (*s < 0x80) {
			if (isalnum(*s))
				out[n++] = (char)tolower(*s);
			s++;
			continue;
		}
		if ((s[0] & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80) {
			cp = ((unsigned)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
			if (cp >= 0xc0 && cp < 0x180 &&
			    (c = latin[cp - 0xc0]) != '\0') {
				out[n++] = c;
				s += 2;
				continue;
			}
		}
		/* Anything else: keep the byte (other scripts compare as
		 * they are, exactly). */
		out[n++] = (char)*s++;
	}
	out[n] = '\0';
	return n;
}

const char *
norm_gender(const char *g)
{
	if (g == NULL)
		return "";
	if (strcasecmp(g, "male") == 0 || strcasecmp(g, "m") == 0)
		return "male";
	if (strcasecmp(g, "female") == 0 || strcasecmp(g, "f") == 0)
		return "female";
	if (strcasecmp(g, "other") == 0)
		return "other";
	if (strcasecmp(g, "unknown") == 0)
		return "unknown";
	return "";
}
