/*
 * bq.c - see bq.h.
 */
#include <stdlib.h>

#include "core/bq.h"

int
bq_init(struct bq *q, size_t cap, size_t maxbytes)
{
	if (cap == 0)
		cap = 1;
	q->item = calloc(cap, sizeof(*q->item));
	q->size = calloc(cap, sizeof(*q->size));
	if (q->item == NULL || q->size == NULL) {
		free(q->item);
		free(q->size);
		return -1;
	}
	q->cap = cap;
	q->batch = cap / 4 ? cap / 4 : 1;
	q->next = q->total = 0;
	q->n = q->bytes = 0;
	q->maxbytes = maxbytes;
	q->take_waits = q->put_waits = 0;
	q->closed = q->aborted = 0;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->can_take, NULL);
	pthread_cond_init(&q->can_put, NULL);
	return 0;
}

void
bq_free(struct bq *q)
{
	pthread_cond_destroy(&q->can_put);
	pthread_cond_destroy(&q->can_take);
	pthread_mutex_destroy(&q->mu);
	free(q->item);
	free(q->size);
	q->item = NULL;
	q->size = NULL;
}

/* Whether seq may be queued now (with the lock held). */
static int
room(const struct bq *q, unsigned long seq, size_t size)
{
	if (seq >= q->next + q->cap)
		return 0;
	return seq == q->next || q->bytes + size <= q->maxbytes;
}

/* Items ready for the consumer, in order from next (lock held). */
static size_t
ready(const struct bq *q)
{
	size_t	 k = 0;

	while (k < q->batch && q->item[(q->next + k) % q->cap] != NULL)
		k++;
	return k;
}

int
bq_put(struct bq *q, unsigned long seq, void *item, size_t size)
{
	pthread_mutex_lock(&q->mu);
	while (!q->aborted && !room(q, seq, size)) {
		q->put_waits = 1;
		/* what is ready may be less than a batch: hand it over */
		if (q->take_waits && q->item[q->next % q->cap] != NULL)
			pthread_cond_signal(&q->can_take);
		pthread_cond_wait(&q->can_put, &q->mu);
	}
	if (q->aborted) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	q->item[seq % q->cap] = item;
	q->size[seq % q->cap] = size;
	q->n++;
	q->bytes += size;
	if (q->take_waits && ready(q) >= q->batch)
		pthread_cond_signal(&q->can_take);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void
bq_leave(struct bq *q)
{
	pthread_mutex_lock(&q->mu);
	if (q->take_waits && q->item[q->next % q->cap] != NULL)
		pthread_cond_signal(&q->can_take);
	pthread_mutex_unlock(&q->mu);
}

void
bq_close(struct bq *q, unsigned long total)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	q->total = total;
	pthread_cond_broadcast(&q->can_take);
	pthread_mutex_unlock(&q->mu);
}

void *
bq_take(struct bq *q)
{
	void	*item;
	size_t	 slot;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		slot = q->next % q->cap;
		if (q->item[slot] != NULL || (q->closed && q->next >= q->total))
			break;
		q->take_waits = 1;
		/* producers blocked on room are woken before we sleep */
		if (q->put_waits) {
			q->put_waits = 0;
			pthread_cond_broadcast(&q->can_put);
		}
		pthread_cond_wait(&q->can_take, &q->mu);
	}
	q->take_waits = 0;
	if ((item = q->item[slot]) != NULL) {
		q->item[slot] = NULL;
		q->bytes -= q->size[slot];
		q->n--;
		q->next++;
		if (q->put_waits && (q->next % q->batch == 0 ||
		    q->item[q->next % q->cap] == NULL)) {
			q->put_waits = 0;
			pthread_cond_broadcast(&q->can_put);
		}
	}
	pthread_mutex_unlock(&q->mu);
	return item;
}

void
bq_abort(struct bq *q)
{
	pthread_mutex_lock(&q->mu);
	q->aborted = 1;
	pthread_cond_broadcast(&q->can_put);
	pthread_mutex_unlock(&q->mu);
}

void *
bq_drain(struct bq *q)
{
	void	*item = NULL;
	size_t	 i;

	pthread_mutex_lock(&q->mu);
	for (i = 0; i < q->cap && item == NULL; i++)
		if ((item = q->item[i]) != NULL) {
			q->item[i] = NULL;
			q->bytes -= q->size[i];
			q->n--;
		}
	pthread_mutex_unlock(&q->mu);
	return item;
}
