/*
 * bq.h - a bounded, ordered queue from several producer threads to one
 * consumer thread.
 *
 * The loader parses ndjson lines on worker threads and writes them to
 * SQLite on one thread, in file order.  Each item carries a sequence
 * number (0, 1, 2, ... with no gaps, as the producers number the lines
 * they take); the consumer takes them in that order whatever order
 * they were finished in.  Memory stays bounded: an item more than `cap`
 * ahead of the consumer waits, and so does one that would bring the
 * bytes queued above `maxbytes` (unless it is the very item the
 * consumer waits for, which is always admitted).
 *
 * A waiting side is woken a batch at a time rather than per item: on
 * a busy machine every wake-up costs a context switch, and waking the
 * consumer for each item would cost more than the items themselves.
 * So the consumer wakes when a batch (cap / 4) is ready in order, when
 * a producer has to wait for room, when a producer leaves (bq_leave())
 * and at bq_close().  A producer therefore calls bq_leave() when it
 * stops putting, else what it left ready may wait unseen while another
 * producer waits for room behind it.
 */
#ifndef P2P_BQ_H
#define P2P_BQ_H

#include <pthread.h>
#include <stddef.h>

struct bq {
	pthread_mutex_t	 mu;
	pthread_cond_t	 can_take;	/* the next item, or closed */
	pthread_cond_t	 can_put;	/* room, or aborted */
	void		**item;		/* ring of cap slots, by seq % cap */
	size_t		*size;		/* bytes of each queued item */
	size_t		 cap;
	size_t		 batch;		/* wake-up granularity */
	unsigned long	 next;		/* seq the consumer takes next */
	unsigned long	 total;		/* seqs issued, once closed */
	size_t		 n;		/* items queued */
	size_t		 bytes;		/* sum of their sizes */
	size_t		 maxbytes;
	int		 take_waits;	/* the consumer is waiting */
	int		 put_waits;	/* producers are waiting */
	int		 closed;	/* total is known */
	int		 aborted;	/* the consumer gave up */
};

/* 0, or -1 when out of memory (nothing to free).  cap >= 1. */
int	 bq_init(struct bq *, size_t cap, size_t maxbytes);
/* Frees the queue itself; see bq_drain() for items left in it. */
void	 bq_free(struct bq *);

/*
 * Queues item as number seq (size bytes), waiting for room.  Every seq
 * below the total must be put exactly once.  0 when queued (the
 * consumer now owns item), -1 when the queue was aborted (item is still
 * the caller's).
 */
int	 bq_put(struct bq *, unsigned long seq, void *item, size_t size);

/* The calling producer puts no more: wakes the consumer if need be. */
void	 bq_leave(struct bq *);

/* No seq from total on will be put: bq_take() ends there. */
void	 bq_close(struct bq *, unsigned long total);

/* The item numbered next, waiting for it; NULL when all were taken. */
void	*bq_take(struct bq *);

/* The consumer stops: waiting and later bq_put() calls return -1. */
void	 bq_abort(struct bq *);

/*
 * After bq_abort() and once no producer runs: removes and returns one
 * item still queued, NULL when none is left.
 */
void	*bq_drain(struct bq *);

#endif
