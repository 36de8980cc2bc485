/* Unit tests for bq.c: the ordered bounded queue of the loader. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/bq.h"
#include "unit.h"

#define N	3000	/* items per ordering run */

/* Producers still running; the last one closes, as the loader's do. */
static pthread_mutex_t	 running_mu = PTHREAD_MUTEX_INITIALIZER;
static int		 running;

struct producer {
	struct bq	*q;
	unsigned long	 n;	/* items in all */
	unsigned long	 first;	/* seqs first, first + step, ... < N */
	unsigned long	 step;
	size_t		 size;	/* bytes of each item */
	int		 refused;	/* bq_put() returned -1 */
};

/* Items are seq + 1 disguised as pointers (never NULL). */
static void *
as_item(unsigned long seq)
{
	return (void *)(uintptr_t)(seq + 1);
}

static void *
produce(void *arg)
{
	struct producer	*p = arg;
	unsigned long	 s;

	for (s = p->first; s < p->n; s += p->step)
		if (bq_put(p->q, s, as_item(s), p->size) == -1) {
			p->refused = 1;
			break;
		}
	bq_leave(p->q);
	pthread_mutex_lock(&running_mu);
	if (--running == 0)
		bq_close(p->q, p->n);
	pthread_mutex_unlock(&running_mu);
	return NULL;
}

/*
 * Several producers finishing out of order: the consumer still takes
 * 0, 1, 2, ... and never sees more than cap items or (but for the one
 * it waits for) maxbytes bytes queued.
 */
START_TEST(test_order_and_bounds)
{
	static const struct {
		size_t		 cap, maxbytes, size;
		int		 producers;
		unsigned long	 n;
		int		 line;
	} runs[] = {
		/* one item at a time: a context switch each, keep n small */
		{ 1, 1000, 10, 1, 50, __LINE__ },
		{ 4, 1000, 10, 2, N, __LINE__ },
		{ 16, 1000, 10, 3, N, __LINE__ },
		{ 64, 25, 10, 2, N, __LINE__ },	/* bytes bind, not slots */
		{ 8, 5, 10, 2, 50, __LINE__ },	/* every item over the limit */
	};
	struct bq	 q;
	struct producer	 p[3];
	pthread_t	 th[3];
	unsigned long	 s;
	void		*it;
	int		 i, np = runs[_i].producers;

	ck_assert_int_eq(bq_init(&q, runs[_i].cap, runs[_i].maxbytes), 0);
	running = np;
	for (i = 0; i < np; i++) {
		p[i].q = &q;
		p[i].n = runs[_i].n;
		p[i].first = (unsigned long)i;
		p[i].step = (unsigned long)np;
		p[i].size = runs[_i].size;
		p[i].refused = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, produce, &p[i]),
		    0);
	}
	for (s = 0; s < runs[_i].n; s++) {
		it = bq_take(&q);
		ck_assert_msg(it == as_item(s), "line %d: seq %lu",
		    runs[_i].line, s);
		pthread_mutex_lock(&q.mu);
		ck_assert_msg(q.n <= runs[_i].cap, "line %d", runs[_i].line);
		ck_assert_msg(q.n <= 1 || q.bytes <= runs[_i].maxbytes +
		    runs[_i].size, "line %d: %zu bytes", runs[_i].line,
		    q.bytes);
		pthread_mutex_unlock(&q.mu);
	}
	for (i = 0; i < np; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(p[i].refused, 0);
	}
	ck_assert_ptr_null(bq_take(&q));	/* closed by the last */
	ck_assert_ptr_null(bq_drain(&q));
	bq_free(&q);
}
END_TEST

/* Closed with nothing put: take ends at once. */
START_TEST(test_empty)
{
	struct bq	 q;

	ck_assert_int_eq(bq_init(&q, 4, 100), 0);
	bq_close(&q, 0);
	ck_assert_ptr_null(bq_take(&q));
	bq_free(&q);
}
END_TEST

/*
 * The consumer gives up: a producer waiting for room (its seq is past
 * the ring) is refused and keeps its item; what was queued is drained.
 */
START_TEST(test_abort)
{
	struct bq	 q;
	struct producer	 p;
	pthread_t	 th;
	size_t		 n;
	int		 left = 0;

	ck_assert_int_eq(bq_init(&q, 2, 100), 0);
	p.q = &q;
	p.n = N;
	p.first = 0;
	p.step = 1;
	p.size = 1;
	p.refused = 0;
	running = 1;
	ck_assert_int_eq(pthread_create(&th, NULL, produce, &p), 0);
	/* seqs 0 and 1 fill the ring; the producer then waits on seq 2 */
	do {
		pthread_mutex_lock(&q.mu);
		n = q.n;
		pthread_mutex_unlock(&q.mu);
		if (n < 2)
			sched_yield();
	} while (n < 2);
	bq_abort(&q);
	pthread_join(th, NULL);
	ck_assert_int_eq(p.refused, 1);
	while (bq_drain(&q) != NULL)
		left++;
	ck_assert_int_eq(left, 2);
	ck_assert_int_eq(bq_put(&q, 5, as_item(5), 1), -1);
	bq_free(&q);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_LOOP(test_order_and_bounds, 5),
		UNIT_TEST(test_empty),
		UNIT_TEST(test_abort),
	};

	return unit_run(unit_tests("bq", NULL, NULL, 60, tests,
	    UNIT_N(tests)));
}
