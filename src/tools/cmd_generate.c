/*
 * cmd_generate.c - p2p-admin generate: placeholder until its issue lands.
 */
#include <stdio.h>

#include "admin_cmds.h"

int
cmd_generate(const char *conf, int argc, char *argv[])
{
	(void)conf;
	(void)argc;
	fprintf(stderr, "p2p-admin: %s is not implemented yet\n", argv[0]);
	return 1;
}
