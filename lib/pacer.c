/*
 * pacer.c - the library's rate limiter behind the public sv_pacer hooks
 *	(sv_pacer_new).  Owns the one request in flight between before()
 *	and after(); the counting rules are ratelimit.c's.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <stdio.h>

#include "ratelimit.h"
#include "redis.h"
#include "sesverify.h"

typedef struct rate_pacer {
	sv_pacer hooks; /* first: the sv_pacer * handed out points here */
	sv_ratelimit *rl;
	pthread_mutex_t lock;
	uint64_t ticket; /* of the request in flight */
	bool in_flight;
	sv_shared *shared; /* Redis set: the account's budget (sv_pacer_new_shared) */
} rate_pacer;

/* pacer_after - the request in flight has its answer (none: nothing) */
static void pacer_after(void *arg)
{
	rate_pacer *rp = arg;
	uint64_t t;
	bool had;

	pthread_mutex_lock(&rp->lock);
	t = rp->ticket;
	had = rp->in_flight;
	rp->in_flight = false;
	pthread_mutex_unlock(&rp->lock);
	if (had)
		sv_ratelimit_done(rp->rl, t);
}

/*
 * pacer_before - wait for a grant; the request is in flight until pacer_after
 *	A request still in flight has ended: the caller sends one at a time,
 *	so this is libcurl's re-send of it, and the first copy's answer will
 *	never come (waiting for its grant to expire would deadlock at rate 1).
 */
static int pacer_before(void *arg)
{
	rate_pacer *rp = arg;
	uint64_t t;

	pacer_after(arg);
	if (sv_ratelimit_acquire_ticket(rp->rl, &t) < 0)
		return -1;
	pthread_mutex_lock(&rp->lock);
	rp->ticket = t;
	rp->in_flight = true;
	pthread_mutex_unlock(&rp->lock);
	return 0;
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
	sv_shared_free(rp->shared);
	pthread_mutex_destroy(&rp->lock);
	free(rp);
}

/* sv_pacer_new_shared - see sesverify.h */
sv_pacer *sv_pacer_new_shared(const sv_config *cfg, char *err, size_t errlen)
{
	sv_pacer *p = sv_pacer_new(cfg->api_rate > 0 ? cfg->api_rate : 20);
	rate_pacer *rp = (rate_pacer *)p;

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg->redis && (rp->shared = sv_shared_new(cfg, rp->rl, err, errlen)) == NULL) {
		sv_pacer_free(p);
		return NULL;
	}
	return p;
}
