/*
 * cmd_audit.c - p2p-admin audit: the accounting of disclosures
 *.
 *
 *   audit export [--patient ID] [--since DATE] [--until DATE] [--out FILE]
 *
 * Writes the audit trail as ndjson FHIR R4 AuditEvents (audit.c),
 * oldest first.  DATE is a FHIR date or instant; --until includes the
 * whole of a partial date.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "admin_cmds.h"
#include "core/util.h"
#include "json/fhir.h"
#include "member/audit.h"

const char cmd_audit_usage[] =
    "usage: p2p-admin audit export [--patient ID] [--since DATE] "
    "[--until DATE] [--out FILE]\n"
    "Writes the accounting of disclosures as ndjson FHIR AuditEvents, "
    "oldest first\n"
    "(DATE: a FHIR date or instant; --until includes the whole of a "
    "partial date;\n"
    "default output: stdout).\n";

static int
audit_usage(void)
{
	fputs(cmd_audit_usage, stderr);
	return 2;
}

/* A FHIR date/instant as a UTC instant (first or last second). */
static int
instant_arg(const char *s, int end, char out[32])
{
	time_t	 t;

	if (time_parse(s, end, &t) == -1) {
		fprintf(stderr, "p2p-admin: %s is not a date\n", s);
		return -1;
	}
	time_instant(t, out);
	return 0;
}

int
cmd_audit(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "patient", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool		 t;
	const char		*patient = NULL, *since = NULL, *until = NULL;
	const char		*path = NULL;
	char			 s0[32], s1[32];
	FILE			*out = stdout;
	long			 n = 0;
	int			 c, rc;

	if (argc < 2 || strcmp(argv[1], "export") != 0)
		return audit_usage();
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': patient = optarg; break;
		case 's': since = optarg; break;
		case 'u': until = optarg; break;
		case 'o': path = optarg; break;
		default: return audit_usage();
		}
	}
	if (optind != argc)
		return audit_usage();
	if (patient != NULL && strncmp(patient, "Patient/", 8) == 0)
		patient += 8;
	if (patient != NULL && !fhir_valid_id(patient)) {
		fprintf(stderr, "p2p-admin: not a valid member id\n");
		return 1;
	}
	if ((since != NULL && instant_arg(since, 0, s0) == -1) ||
	    (until != NULL && instant_arg(until, 1, s1) == -1))
		return 1;
	if (admin_open(&t, conf) == -1)
		return 1;
	if (path != NULL && (out = fopen(path, "w")) == NULL)
		return TOOL_STATUS(tool_end(&t, p2p_fail(&t.err, 500,
		    P2P_ISSUE_EXCEPTION, "%s: %s", path, strerror(errno)),
		    "audit export"));
	rc = audit_export(&t.db, &t.cfg, patient, since ? s0 : NULL,
	    until ? s1 : NULL, out, &n, &t.err);
	if (out != stdout && fclose(out) != 0 && rc == 0)
		rc = p2p_fail(&t.err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
	else if (rc == 0 && out == stdout)
		fflush(stdout);
	if (rc == 0 && path != NULL)
		fprintf(stderr, "%ld audit events written to %s\n", n, path);
	return TOOL_STATUS(tool_end(&t, rc, "audit export"));
}
