/*
 * fuzz_peer_answer.c - what a previous payer answers p2p-request, read
 * as the receiving side reads it: a Bulk Data completion manifest
 * (peer/manifest.c: manifest_parse()), a refusal's words and issue code
 * (peer/httpc.c: httpc_outcome_text(), httpc_outcome_code()), a
 * Retry-After value (httpc_retry_after()), a CapabilityStatement and a
 * SMART configuration (peer/smart.c: smart_caps_of(),
 * smart_config_check()).
 *
 * A manifest accepted has a transactionTime that parses, every file a
 * valid type and an absolute URL without white space, on the peer's
 * origin when a token is required, and counts of at least 0 (or -1 for
 * none).  A refusal's text is printable and within its buffer.  A
 * Retry-After is -1 or within 0..HTTPC_RETRY_MAX.  Only the four known
 * operations are ever reported.
 */
#include "fuzz.h"
#include "core/util.h"
#include "json/fhir.h"
#include "peer/httpc.h"
#include "peer/manifest.h"
#include "peer/peer.h"
#include "peer/smart.h"
#include "store/store.h"

#define ORIGIN	"https://payer-a.example/fhir"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_quiet(1);
	return 0;
}

static void
manifest(const char *s, size_t n)
{
	struct manifest	 m;
	struct p2p_err	 err;
	time_t		 t;
	size_t		 i, k;

	p2p_err_init(&err);
	if (manifest_parse(s, n, ORIGIN, &m, &err) == -1) {
		if (err.status != 502 && err.status != 500)
			fuzz_fail("manifest refused with %d", err.status);
		if (err.msg[0] == '\0')
			fuzz_fail("manifest refused without a message");
		manifest_free(&m);
		return;
	}
	if (time_parse(m.transaction_time, 0, &t) == -1)
		fuzz_fail("transactionTime %s accepted", m.transaction_time);
	for (i = 0; i < m.nfiles; i++) {
		if (!store_type_valid(m.files[i].type))
			fuzz_fail("file %zu: type %s", i, m.files[i].type);
		if (strstr(m.files[i].url, "://") == NULL)
			fuzz_fail("file %zu: url %s", i, m.files[i].url);
		for (k = 0; m.files[i].url[k] != '\0'; k++)
			if ((unsigned char)m.files[i].url[k] <= 0x20)
				fuzz_fail("file %zu: white space in url", i);
		if (m.requires_token &&
		    !httpc_same_origin(m.files[i].url, ORIGIN))
			fuzz_fail("file %zu: %s off the origin with a token",
			    i, m.files[i].url);
		if (m.files[i].count < -1)
			fuzz_fail("file %zu: count %lld", i, m.files[i].count);
	}
	manifest_free(&m);
}

static void
refusal(const char *s, size_t n)
{
	char	 text[64], code[16];
	size_t	 i;

	memset(text, 'x', sizeof(text));
	httpc_outcome_text(s, n, text, sizeof(text));
	if (memchr(text, '\0', sizeof(text)) == NULL)
		fuzz_fail("outcome text not terminated");
	for (i = 0; text[i] != '\0'; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			fuzz_fail("control character in the outcome text");
	memset(code, 'x', sizeof(code));
	httpc_outcome_code(s, n, code, sizeof(code));
	if (memchr(code, '\0', sizeof(code)) == NULL)
		fuzz_fail("outcome code not terminated");
}

static void
documents(const char *s, size_t n)
{
	struct p2p_err	 err;
	json_object	*o = NULL;
	char		 url[64];
	unsigned	 caps;

	p2p_err_init(&err);
	if (fhir_parse(s, n, &o, &err) == -1)
		return;
	caps = smart_caps_of(o);
	if (caps & ~(unsigned)(PEER_CAP_MEMBER_MATCH | PEER_CAP_EVERYTHING |
	    PEER_CAP_BULK_MATCH | PEER_CAP_DATA_EXPORT))
		fuzz_fail("unknown capability bits %x", caps);
	p2p_err_init(&err);
	memset(url, 'x', sizeof(url));
	if (smart_config_check(o, "ES384", url, sizeof(url), &err) == 0 &&
	    (memchr(url, '\0', sizeof(url)) == NULL || url[0] == '\0'))
		fuzz_fail("token endpoint not terminated or empty");
	json_object_put(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s = fuzz_str(data, size);
	long long	 r;

	manifest(s, size);
	refusal(s, size);
	documents(s, size);
	r = httpc_retry_after(s, 1700000000);
	if (r < -1 || r > HTTPC_RETRY_MAX)
		fuzz_fail("Retry-After %lld", r);
	free(s);
	return 0;
}
