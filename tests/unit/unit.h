/*
 * unit.h - what every Check suite shares: the runner at the end of
 * main() and the in-memory database with the schema applied.
 */
#ifndef P2P_UNIT_H
#define P2P_UNIT_H

#include <check.h>

#include "store/db.h"

/* Runs the suite; returns main()'s exit status (0 when all passed). */
static inline int
unit_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}

/* Opens a fresh in-memory database with every migration applied. */
static inline void
unit_db_open(struct p2p_db *db)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(db_open(db, ":memory:", 1, &err), 0);
	ck_assert_int_eq(db_migrate(db, &err), 0);
}

#endif
