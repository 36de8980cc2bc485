/*
 * admin_cmds.h - p2p-admin commands, one file per area.  Each takes
 * argc/argv starting at the command name and returns the exit status
 * (0 ok, 1 failure, 2 usage).  conf is the -c argument or NULL.
 */
#ifndef P2P_ADMIN_CMDS_H
#define P2P_ADMIN_CMDS_H

#include "tool.h"

/* tool_open() for p2p-admin: -1 after a message. */
int	 admin_open(struct tool *, const char *conf);

int	 cmd_load(const char *conf, int argc, char *argv[]);	/* cmd_load.c */
int	 cmd_stats(const char *conf, int argc, char *argv[]);	/* cmd_load.c */
int	 cmd_generate(const char *conf, int argc, char *argv[]); /* cmd_generate.c */
int	 cmd_client(const char *conf, int argc, char *argv[]);	/* cmd_client.c */
int	 cmd_consent(const char *conf, int argc, char *argv[]); /* cmd_consent.c */
int	 cmd_audit(const char *conf, int argc, char *argv[]);	/* cmd_audit.c */
int	 cmd_peer(const char *conf, int argc, char *argv[]);	/* cmd_peer.c */

/* Each command's usage and options, for its errors and --help. */
extern const char cmd_load_usage[];
extern const char cmd_stats_usage[];
extern const char cmd_generate_usage[];
extern const char cmd_client_usage[];
extern const char cmd_consent_usage[];
extern const char cmd_audit_usage[];
extern const char cmd_peer_usage[];

#endif
