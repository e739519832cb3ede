/*
 * pacer.c - the library's rate limiter behind the public sv_pacer hooks.
 *	Owns the FIFO of tickets in flight between before() and after();
 *	the counting rules are ratelimit.c's.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "ratelimit.h"
#include "sesverify.h"

typedef struct rate_pacer {
	sv_pacer hooks; /* first: the sv_pacer * handed out points here */
	sv_ratelimit *rl;
	pthread_mutex_t lock;
	uint64_t *tickets; /* in flight, oldest at head */
	size_t head, n, cap;
} rate_pacer;

/* push - remember a ticket in flight; -1 without memory */
static int push(rate_pacer *rp, uint64_t t)
{
	if (rp->n == rp->cap) {
		size_t cap = rp->cap ? rp->cap * 2 : 8, i;
		uint64_t *nt = malloc(cap * sizeof(*nt));

		if (!nt)
			return -1;
		for (i = 0; i < rp->n; i++)
			nt[i] = rp->tickets[(rp->head + i) % rp->cap];
		free(rp->tickets);
		rp->tickets = nt;
		rp->cap = cap;
		rp->head = 0;
	}
	rp->tickets[(rp->head + rp->n++) % rp->cap] = t;
	return 0;
}

/* pacer_before - wait for a grant; the request is in flight until pacer_after */
static int pacer_before(void *arg)
{
	rate_pacer *rp = arg;
	uint64_t t;
	int rc;

	if (sv_ratelimit_acquire_ticket(rp->rl, &t) < 0)
		return -1;
	pthread_mutex_lock(&rp->lock);
	rc = push(rp, t);
	pthread_mutex_unlock(&rp->lock);
	if (rc < 0)
		sv_ratelimit_done(rp->rl, t); /* counted from now on; nothing to track */
	return 0;
}

/* pacer_after - the oldest request in flight has its answer */
static void pacer_after(void *arg)
{
	rate_pacer *rp = arg;
	uint64_t t = 0;
	int have = 0;

	pthread_mutex_lock(&rp->lock);
	if (rp->n > 0) {
		t = rp->tickets[rp->head];
		rp->head = (rp->head + 1) % rp->cap;
		rp->n--;
		have = 1;
	}
	pthread_mutex_unlock(&rp->lock);
	if (have)
		sv_ratelimit_done(rp->rl, t);
}

/* sv_pacer_new - see sesverify.h */
sv_pacer *sv_pacer_new(int rate)
{
	rate_pacer *rp = calloc(1, sizeof(*rp));

	if (!rp)
		return NULL;
	if ((rp->rl = sv_ratelimit_new(rate < 1 ? 1 : rate, NULL, NULL)) == NULL) {
		free(rp);
		return NULL;
	}
	pthread_mutex_init(&rp->lock, NULL);
	rp->hooks = (sv_pacer){pacer_before, pacer_after, rp};
	return &rp->hooks;
}

/* sv_pacer_free - see sesverify.h */
void sv_pacer_free(sv_pacer *p)
{
	rate_pacer *rp = (rate_pacer *)p;

	if (!rp)
		return;
	sv_ratelimit_free(rp->rl);
	pthread_mutex_destroy(&rp->lock);
	free(rp->tickets);
	free(rp);
}
