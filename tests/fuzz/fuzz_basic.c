/*
 * fuzz_basic.c - an Authorization: Basic header, as the token endpoint
 * and Basic API calls decode it (auth/access.c: auth_basic_parse(),
 * RFC 6749 2.3.1: base64 of urlencoded id ':' urlencoded secret).
 *
 * The input is tried as the whole header and as what follows "Basic ".
 * A parse that succeeds gives a non-empty id and secret that fit their
 * buffers; one that fails leaves nothing to use.
 */
#include "fuzz.h"
#include "auth/access.h"

static void
basic(const char *h)
{
	char	 id[128], secret[256];
	int	 rc;

	memset(id, 'x', sizeof(id));
	memset(secret, 'x', sizeof(secret));
	rc = auth_basic_parse(h, id, sizeof(id), secret, sizeof(secret));
	if (rc == -1)
		return;
	if (rc != 0)
		fuzz_fail("auth_basic_parse() returned %d", rc);
	if (memchr(id, '\0', sizeof(id)) == NULL ||
	    memchr(secret, '\0', sizeof(secret)) == NULL)
		fuzz_fail("id or secret not terminated");
	if (id[0] == '\0' || secret[0] == '\0')
		fuzz_fail("empty id or secret accepted");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*h = malloc(size + 7);

	if (h == NULL)
		abort();
	memcpy(h, "Basic ", 6);
	memcpy(h + 6, data, size);
	h[size + 6] = '\0';
	basic(h);
	basic(h + 6);
	free(h);
	return 0;
}
