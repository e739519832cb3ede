/*
 * ratelimit.c - the process-wide API rate limiter (see ratelimit.h).
 *	Owns the token bucket, the sliding-window ring of grant times and the
 *	adaptive slow-down.  It does not know what an API call is: callers
 *	acquire before each request and penalize on a rate-limit answer.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"
#include "stats.h"

struct sv_ratelimit {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	sv_rl_clock_fn clock;
	void *clock_arg;
	int rate;   /* configured: hard cap per window */
	double cur; /* bucket rate now (adaptive) */
	double tokens;
	int64_t last_refill, last_penalty;
	/*
	 * ring: when the last "rate" requests were counted by the server at
	 * the latest, oldest at head, in time order: the answer time of a
	 * ticketed grant, the grant time of an unticketed one
	 */
	int64_t *ring;
	int head, count;
	int inflight; /* ticketed grants without their answer yet */
	int urgent;   /* urgent callers waiting (sv_ratelimit_acquire_prio) */
	uint64_t next_seq;
	int shutdown;
	uint64_t waits;
	uint64_t *stat_waits, *stat_penalties;
	sv_rl_shared shared;  /* try_grant NULL: none */
	int shared_down;      /* the shared budget was last found unreachable */
	int64_t shared_clear; /* no local grant before: the shared ones of the last second */
};

/* mono_us - real monotonic clock in microseconds */
static int64_t mono_us(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* sv_ratelimit_new - a limiter at rate per second (clock NULL: monotonic) */
sv_ratelimit *sv_ratelimit_new(int rate, sv_rl_clock_fn clock, void *arg)
{
	sv_ratelimit *rl;
	pthread_condattr_t ca;

	if (rate < 1)
		rate = 1;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if ((rl->ring = calloc((size_t)rate, sizeof(*rl->ring))) == NULL) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rl->cond, &ca);
	pthread_condattr_destroy(&ca);
	rl->clock = clock ? clock : mono_us;
	rl->clock_arg = arg;
	rl->rate = rate;
	rl->cur = rate;
	rl->tokens = rate;
	rl->last_refill = rl->clock(rl->clock_arg);
	rl->last_penalty = INT64_MIN / 2;
	rl->stat_waits = sv_stat_counter("ratelimit.waits");
	rl->stat_penalties = sv_stat_counter("ratelimit.penalties");
	return rl;
}

/* sv_ratelimit_free - release (no thread may be inside) */
void sv_ratelimit_free(sv_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_cond_destroy(&rl->cond);
	pthread_mutex_destroy(&rl->lock);
	free(rl->ring);
	free(rl);
}

/* refill - add tokens and recover the rate for the time since the last call */
static void refill(sv_ratelimit *rl, int64_t now)
{
	double secs;

	if (now <= rl->last_refill)
		return;
	secs = (double)(now - rl->last_refill) / 1e6;
	rl->last_refill = now;
	if (rl->cur < rl->rate) {
		/* additive recovery: back to full speed in about ten seconds */
		rl->cur += secs * (rl->rate / 10.0 > 0.5 ? rl->rate / 10.0 : 0.5);
		if (rl->cur > rl->rate)
			rl->cur = rl->rate;
	}
	rl->tokens += secs * rl->cur;
	if (rl->tokens > (rl->cur < 1 ? 1 : rl->cur))
		rl->tokens = rl->cur < 1 ? 1 : rl->cur;
}

/* push - record a counted request at t (never before the newest) */
static void push(sv_ratelimit *rl, int64_t t)
{
	if (rl->count > 0) {
		int64_t last = rl->ring[(rl->head + rl->count - 1) % rl->rate];
		if (t < last)
			t = last;
	}
	if (rl->count == rl->rate) {
		/* the oldest has left the window: the grant rule made room */
		rl->ring[rl->head] = t;
		rl->head = (rl->head + 1) % rl->rate;
	} else {
		rl->ring[(rl->head + rl->count) % rl->rate] = t;
		rl->count++;
	}
}

/*
 * window_wait - 0 when one more request may be sent now, else how long
 *	(us) until one may.  The server may count a request at any moment
 *	between our grant and its answer, so a request in flight counts as
 *	"now" until its answer, and an answered one for a second after its
 *	answer.  With fewer than "rate" of those at each grant, no second can
 *	see more than "rate" arrivals, whatever the delays on the way.
 */
static int64_t window_wait(sv_ratelimit *rl, int64_t now)
{
	int64_t window = 1000000 + SV_RL_MARGIN_US;
	int recent = 0, i;

	for (i = rl->count - 1; i >= 0; i--) {
		if (rl->ring[(rl->head + i) % rl->rate] + window <= now)
			break;
		recent++;
	}
	if (rl->inflight + recent < rl->rate)
		return 0;
	if (recent == 0)
		return 10000; /* all in flight: sv_ratelimit_done wakes us sooner */
	/* the oldest recent one leaves the window first */
	return rl->ring[(rl->head + rl->count - recent) % rl->rate] + window - now;
}

/*
 * shared_lost - the shared budget is unreachable: local grants from now on,
 *	but none before a second (plus margin) after it was last reached, since
 *	its grants of that second are not in our ring; 0 or the wait (us)
 */
static int64_t shared_lost(sv_ratelimit *rl, int64_t now)
{
	if (!rl->shared_down) {
		rl->shared_down = 1;
		rl->shared_clear = now + 1000000 + SV_RL_MARGIN_US;
	}
	return rl->shared_clear > now ? rl->shared_clear - now : 0;
}

/*
 * local_busy - a shared grant came (again): it may be used once none of
 *	our local grants counts any more (none in flight, the newest answered
 *	a second and the margin ago), since the shared budget does not know
 *	them; 0 or the wait (us)
 */
static int64_t local_busy(sv_ratelimit *rl, int64_t now)
{
	int64_t newest;

	rl->shared_down = 0;
	if (rl->inflight > 0)
		return 10000; /* sv_ratelimit_done wakes us sooner */
	if (rl->count == 0)
		return 0;
	newest = rl->ring[(rl->head + rl->count - 1) % rl->rate] + 1000000 + SV_RL_MARGIN_US;
	return newest > now ? newest - now : 0;
}

/* try_locked - grant now (0, *ticket set) or say how long to wait (us) */
static int64_t try_locked(sv_ratelimit *rl, int64_t now, uint64_t *ticket)
{
	int64_t w;

	refill(rl, now);
	if ((w = window_wait(rl, now)) > 0)
		return w;
	if (rl->tokens < 1.0) {
		w = (int64_t)((1.0 - rl->tokens) / rl->cur * 1e6) + 1;
		return w > 0 ? w : 1;
	}
	rl->tokens -= 1.0;
	if (ticket) {
		rl->inflight++;
		*ticket = ++rl->next_seq;
	} else {
		push(rl, now);
	}
	return 0;
}

/* sv_ratelimit_try - non-blocking grant attempt */
int64_t sv_ratelimit_try(sv_ratelimit *rl)
{
	return sv_ratelimit_try_ticket(rl, NULL);
}

/* sv_ratelimit_try_ticket - sv_ratelimit_try naming the grant for sv_ratelimit_done */
int64_t sv_ratelimit_try_ticket(sv_ratelimit *rl, uint64_t *ticket)
{
	uint64_t st = 0;
	int64_t w = -1, busy, now;

	if (rl->shared.try_grant)
		w = rl->shared.try_grant(rl->shared.arg, ticket ? &st : NULL);
	pthread_mutex_lock(&rl->lock);
	now = rl->clock(rl->clock_arg);
	if (rl->shutdown) {
		w = -1;
	} else if (w == 0 && (busy = local_busy(rl, now)) > 0) {
		/* not usable yet: given back (it counts for a second) */
		pthread_mutex_unlock(&rl->lock);
		if (ticket)
			rl->shared.done(rl->shared.arg, st);
		return busy;
	} else if (w == 0) {
		if (ticket)
			*ticket = st | SV_RL_SHARED_TICKET;
	} else if (w < 0 && (!rl->shared.try_grant || (w = shared_lost(rl, now)) == 0)) {
		w = try_locked(rl, now, ticket);
	}
	pthread_mutex_unlock(&rl->lock);
	return w;
}

/* sv_ratelimit_acquire - block until granted (0) or shut down (-1) */
int sv_ratelimit_acquire(sv_ratelimit *rl)
{
	return sv_ratelimit_acquire_ticket(rl, NULL);
}

/*
 * sv_ratelimit_done - the request of ticket has its answer
 *	The server counted it at the latest now; it stops counting as in
 *	flight and counts for a second from now.
 */
void sv_ratelimit_done(sv_ratelimit *rl, uint64_t ticket)
{
	if (ticket == 0)
		return;
	if (ticket & SV_RL_SHARED_TICKET) {
		rl->shared.done(rl->shared.arg, ticket & ~SV_RL_SHARED_TICKET);
		return;
	}
	pthread_mutex_lock(&rl->lock);
	if (rl->inflight > 0)
		rl->inflight--;
	push(rl, rl->clock(rl->clock_arg));
	pthread_cond_broadcast(&rl->cond);
	pthread_mutex_unlock(&rl->lock);
}

/* sv_ratelimit_acquire_ticket - acquire; *ticket names the grant for sv_ratelimit_done */
int sv_ratelimit_acquire_ticket(sv_ratelimit *rl, uint64_t *ticket)
{
	return sv_ratelimit_acquire_prio(rl, ticket, 0, NULL, NULL) == 0 ? 0 : -1;
}

/* sleep_locked - wait on the limiter's condition, at most us microseconds (lock held) */
static void sleep_locked(sv_ratelimit *rl, int64_t us)
{
	int64_t until = mono_us(NULL) + us;
	struct timespec ts = {.tv_sec = until / 1000000, .tv_nsec = (long)(until % 1000000) * 1000};

	pthread_cond_timedwait(&rl->cond, &rl->lock, &ts);
}

#define SHARED_NO       (-1) /* the shared budget is unreachable: the local one's turn */
#define SHARED_SHUTDOWN (-2)

/*
 * shared_locked - a grant of the shared budget (lock held, dropped while
 *	asking): 0 granted (*ticket set), > 0 microseconds to wait (at most
 *	100 ms: other hosts' answers wake nobody here), SHARED_NO or
 *	SHARED_SHUTDOWN.  Back after an outage, a grant is used only once
 *	none of our local grants counts any more.
 */
static int64_t shared_locked(sv_ratelimit *rl, uint64_t *ticket, int *waited)
{
	uint64_t st = 0;
	int64_t w, busy;

	pthread_mutex_unlock(&rl->lock); /* no I/O under the lock */
	w = rl->shared.try_grant(rl->shared.arg, ticket ? &st : NULL);
	pthread_mutex_lock(&rl->lock);
	if (w < 0)
		return (w = shared_lost(rl, rl->clock(rl->clock_arg))) > 0 ? w : SHARED_NO;
	if (w > 0)
		return w > 100000 ? 100000 : w;
	while (!rl->shutdown && (busy = local_busy(rl, rl->clock(rl->clock_arg))) > 0) {
		*waited = 1;
		sleep_locked(rl, busy);
	}
	if (rl->shutdown && ticket) {
		pthread_mutex_unlock(&rl->lock);
		rl->shared.done(rl->shared.arg, st); /* given back */
		pthread_mutex_lock(&rl->lock);
		return SHARED_SHUTDOWN;
	}
	if (ticket)
		*ticket = st | SV_RL_SHARED_TICKET;
	return 0;
}

/*
 * sv_ratelimit_acquire_prio - acquire_ticket, urgent first
 *	While an urgent caller waits, the others take no grant.  A
 *	non-urgent caller gives up (1, no grant) as soon as yield(arg) says
 *	so; yield is asked without the limiter's lock, before every attempt.
 */
int sv_ratelimit_acquire_prio(sv_ratelimit *rl, uint64_t *ticket, int urgent, int (*yield)(void *),
                              void *arg)
{
	int waited = 0, rc = -1;
	int64_t w;

	pthread_mutex_lock(&rl->lock);
	if (urgent)
		rl->urgent++;
	while (!rl->shutdown) {
		if (!urgent && yield) {
			int y;
			pthread_mutex_unlock(&rl->lock);
			y = yield(arg);
			pthread_mutex_lock(&rl->lock);
			if (y) {
				rc = 1;
				break;
			}
		}
		if (!urgent && rl->urgent > 0)
			w = 10000; /* an urgent caller goes first; it wakes us when served */
		else if (!rl->shared.try_grant ||
		         (w = shared_locked(rl, ticket, &waited)) == SHARED_NO)
			w = try_locked(rl, rl->clock(rl->clock_arg), ticket);
		if (w <= 0) {
			rc = w == 0 ? 0 : -1;
			break;
		}
		waited = 1;
		sleep_locked(rl, w);
	}
	if (urgent && --rl->urgent == 0)
		pthread_cond_broadcast(&rl->cond);
	if (waited) {
		rl->waits++;
		sv_stat_inc(rl->stat_waits, 1);
	}
	pthread_mutex_unlock(&rl->lock);
	return rc;
}

/* sv_ratelimit_kick - wake every waiter to ask its yield again */
void sv_ratelimit_kick(sv_ratelimit *rl)
{
	pthread_mutex_lock(&rl->lock);
	pthread_cond_broadcast(&rl->cond);
	pthread_mutex_unlock(&rl->lock);
}

/* sv_ratelimit_penalize - the server said "too fast": halve the rate */
void sv_ratelimit_penalize(sv_ratelimit *rl)
{
	int64_t now;

	if (rl->shared.penalize)
		rl->shared.penalize(rl->shared.arg);
	pthread_mutex_lock(&rl->lock);
	now = rl->clock(rl->clock_arg);
	refill(rl, now);
	/* one burst of rejections is one signal, not N halvings */
	if (now - rl->last_penalty >= 1000000) {
		rl->last_penalty = now;
		rl->cur = rl->cur / 2 < 1 ? 1 : rl->cur / 2;
		rl->tokens = 0;
		sv_stat_inc(rl->stat_penalties, 1);
	}
	pthread_mutex_unlock(&rl->lock);
}

/* set_local_rate - the local limiter's rate, keeping the recent requests */
static void set_local_rate(sv_ratelimit *rl, int rate)
{
	int64_t *ring;
	int keep, i;

	if (rate < 1)
		rate = 1;
	if ((ring = calloc((size_t)rate, sizeof(*ring))) == NULL)
		return;
	pthread_mutex_lock(&rl->lock);
	keep = rl->count < rate ? rl->count : rate;
	for (i = 0; i < keep; i++)
		ring[i] = rl->ring[(rl->head + rl->count - keep + i) % rl->rate];
	free(rl->ring);
	rl->ring = ring;
	rl->head = 0;
	rl->count = keep;
	rl->rate = rate;
	if (rl->cur > rate)
		rl->cur = rate;
	if (rl->tokens > rate)
		rl->tokens = rate;
	pthread_cond_broadcast(&rl->cond);
	pthread_mutex_unlock(&rl->lock);
}

/* sv_ratelimit_set_rate - apply a new ApiRate (with a shared budget: its rate) */
void sv_ratelimit_set_rate(sv_ratelimit *rl, int rate)
{
	if (rl->shared.set_rate)
		rl->shared.set_rate(rl->shared.arg, rate);
	else
		set_local_rate(rl, rate);
}

/* sv_ratelimit_set_shared - grants from shared first; local at down_rate when unreachable */
void sv_ratelimit_set_shared(sv_ratelimit *rl, const sv_rl_shared *shared, int down_rate)
{
	set_local_rate(rl, down_rate);
	pthread_mutex_lock(&rl->lock);
	rl->shared = *shared;
	pthread_mutex_unlock(&rl->lock);
}

/*
 * sv_ratelimit_spent_at - as if rate grants had been made at when
 *	For a limiter that replaces another one (a restarted process): the
 *	old one may have used the whole budget of the second ending at when,
 *	so no grant comes before when + 1 s + margin.  Later grants already
 *	recorded keep their times; the ring stays oldest-first.
 */
void sv_ratelimit_spent_at(sv_ratelimit *rl, int64_t when)
{
	int64_t now, *ring;
	int keep, i;

	pthread_mutex_lock(&rl->lock);
	now = rl->clock(rl->clock_arg);
	if (when > now)
		when = now; /* the ring stays in time order */
	/* "rate" requests at when, then the recorded ones that are later */
	for (keep = 0; keep < rl->count; keep++)
		if (rl->ring[(rl->head + rl->count - 1 - keep) % rl->rate] <= when)
			break;
	if ((ring = calloc((size_t)rl->rate, sizeof(*ring))) != NULL) {
		for (i = 0; i < rl->rate - keep; i++)
			ring[i] = when;
		for (i = 0; i < keep; i++)
			ring[rl->rate - keep + i] =
			    rl->ring[(rl->head + rl->count - keep + i) % rl->rate];
		free(rl->ring);
		rl->ring = ring;
	} else {
		/* no memory for the copy: all at the newest time, which is safe */
		int64_t t = keep ? rl->ring[(rl->head + rl->count - 1) % rl->rate] : when;
		for (i = 0; i < rl->rate; i++)
			rl->ring[i] = t;
	}
	rl->head = 0;
	rl->count = rl->rate;
	/* the bucket is empty at when and refills from there */
	if (when > rl->last_refill || rl->tokens > 0) {
		rl->tokens = 0;
		rl->last_refill = when;
	}
	pthread_cond_broadcast(&rl->cond);
	pthread_mutex_unlock(&rl->lock);
}

/* sv_ratelimit_shutdown - make every current and future acquire fail */
void sv_ratelimit_shutdown(sv_ratelimit *rl)
{
	pthread_mutex_lock(&rl->lock);
	rl->shutdown = 1;
	pthread_cond_broadcast(&rl->cond);
	pthread_mutex_unlock(&rl->lock);
}

/* sv_ratelimit_current - current bucket rate */
double sv_ratelimit_current(sv_ratelimit *rl)
{
	double r;

	pthread_mutex_lock(&rl->lock);
	refill(rl, rl->clock(rl->clock_arg));
	r = rl->cur;
	pthread_mutex_unlock(&rl->lock);
	return r;
}

/* sv_ratelimit_waits - acquire calls that waited */
uint64_t sv_ratelimit_waits(sv_ratelimit *rl)
{
	uint64_t n;

	pthread_mutex_lock(&rl->lock);
	n = rl->waits;
	pthread_mutex_unlock(&rl->lock);
	return n;
}

/* sv_ratelimit_rate - the configured rate */
int sv_ratelimit_rate(sv_ratelimit *rl)
{
	int r;

	pthread_mutex_lock(&rl->lock);
	r = rl->rate;
	pthread_mutex_unlock(&rl->lock);
	return r;
}
