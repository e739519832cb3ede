/*
 * NAME
 *	ratelimit 3h - the process-wide API rate limiter
 * SYNOPSIS
 *	#include "ratelimit.h"
 *
 *	sv_ratelimit *sv_ratelimit_new(int rate, sv_rl_clock_fn clock, void *arg);
 *	void sv_ratelimit_set_shared(sv_ratelimit *rl, const sv_rl_shared *shared, int down_rate);
 *	int64_t sv_ratelimit_try(sv_ratelimit *rl);
 *	int64_t sv_ratelimit_try_ticket(sv_ratelimit *rl, uint64_t *ticket);
 *	int sv_ratelimit_acquire(sv_ratelimit *rl);
 *	int sv_ratelimit_acquire_ticket(sv_ratelimit *rl, uint64_t *ticket);
 *	int sv_ratelimit_acquire_prio(sv_ratelimit *rl, uint64_t *ticket, int urgent,
 *	                              int (*yield)(void *), void *arg);
 *	void sv_ratelimit_kick(sv_ratelimit *rl);
 *	void sv_ratelimit_done(sv_ratelimit *rl, uint64_t ticket);
 *	void sv_ratelimit_penalize(sv_ratelimit *rl);
 *	void sv_ratelimit_spent_at(sv_ratelimit *rl, int64_t when);
 *	void sv_ratelimit_set_rate(sv_ratelimit *rl, int rate);
 *	void sv_ratelimit_shutdown(sv_ratelimit *rl);
 *	void sv_ratelimit_free(sv_ratelimit *rl);
 * DESCRIPTION
 *	One limiter gates every API call of the process.  Two rules apply
 *	to each grant:
 *
 *	1. a token bucket refilled at the current (adaptive) rate, holding
 *	   at most that many tokens, and
 *	2. a hard sliding window counted the way the server counts: at its
 *	   arrival, which lies somewhere between our grant and the answer.
 *	   A request granted with a ticket counts as "now" while it is in
 *	   flight and for one second plus a small margin after its answer
 *	   (sv_ratelimit_done); one granted without a ticket counts for that
 *	   second from its grant.  A grant needs fewer than "rate" requests
 *	   counted.  So no second ever sees more than "rate" arrivals,
 *	   whatever the delays on the way (a slow TLS set-up, the earlier
 *	   pages of a list, a server that takes long to read).
 *
 *	sv_ratelimit_penalize() reacts to RequestLimitExceeded/LimitExceeded:
 *	the bucket rate halves (at most once per second, floor 1/s) and then
 *	recovers additively, rate/10 per second, up to the configured rate.
 *
 *	sv_ratelimit_try() never blocks: 0 means granted (and recorded), a
 *	positive value is the number of microseconds until a grant may be
 *	possible; sv_ratelimit_try_ticket() also names the grant (*ticket)
 *	for sv_ratelimit_done().  sv_ratelimit_acquire() blocks until granted (0) or until
 *	sv_ratelimit_shutdown() (-1).  sv_ratelimit_acquire_ticket() also
 *	names the grant for sv_ratelimit_done(ticket), called once the answer
 *	arrived (or the request failed); every ticket must be done exactly
 *	once, or it counts as in flight for ever.
 *
 *	sv_ratelimit_acquire_prio() is acquire_ticket with a priority: while
 *	an urgent caller (mail is waiting for its answer) waits, no other
 *	caller of the process takes a grant, so the next grant is the urgent
 *	one's.  A non-urgent caller with a yield callback returns 1 without a
 *	grant as soon as yield(arg) is true (asked before every attempt,
 *	without the limiter's lock held); sv_ratelimit_kick() wakes the
 *	waiters to ask it at once.
 *
 *	The limiter is per process, and the server's budget is not: a process
 *	that replaces one which may have spent this second's requests (a
 *	restarted worker, a daemon started right after another stopped) calls
 *	sv_ratelimit_spent_at(when), which records "rate" grants at when, so
 *	that no grant comes before when + 1 s + margin.
 *
 *	The clock is injectable (monotonic microseconds) so the rules are
 *	unit-tested without sleeping; acquire always sleeps on the real
 *	monotonic clock.
 *
 *	Counters: "ratelimit.waits" (acquire had to wait), "ratelimit.penalties".
 *
 *	sv_ratelimit_set_shared() puts a shared budget in front (several
 *	processes and hosts, lib/redis_rl.c); call it before the limiter is
 *	used.  Every grant is asked of it first, outside the limiter's lock;
 *	a grant's ticket then carries SV_RL_SHARED_TICKET, and done and
 *	penalize go to it as well.  While it says it is unreachable (-1),
 *	grants come from this local limiter, whose rate becomes down_rate
 *	(RedisDownApiRate); the next grant that reaches it again is shared,
 *	without a restart.  The shared grants of the last second are not in
 *	the local ring, so the first local grant after the shared budget was
 *	lost waits a second (plus margin); and a shared grant after an
 *	outage is used only once no local grant counts any more (none in
 *	flight, the newest answered over a second ago), so that neither
 *	change of side adds the two budgets in one second.  sv_ratelimit_set_rate then changes the shared
 *	rate, and the local one stays down_rate.  While the shared budget
 *	asks to wait, acquire polls it at least every 100 ms (other hosts'
 *	answers wake nobody here).
 */
#ifndef SV_RATELIMIT_H
#define SV_RATELIMIT_H

#include <stdint.h>

typedef struct sv_ratelimit sv_ratelimit;
typedef int64_t (*sv_rl_clock_fn)(void *arg);

#define SV_RL_MARGIN_US 10000 /* added to the 1-second window: timer slack */

/* A shared budget: try_grant 0 granted (*ticket set when ticket is not NULL),
 * > 0 microseconds to wait, -1 unreachable. */
typedef struct sv_rl_shared {
	int64_t (*try_grant)(void *arg, uint64_t *ticket);
	void (*done)(void *arg, uint64_t ticket);
	void (*penalize)(void *arg);
	void (*set_rate)(void *arg, int rate);
	void *arg;
} sv_rl_shared;
#define SV_RL_SHARED_TICKET (UINT64_C(1) << 63)

sv_ratelimit *sv_ratelimit_new(int rate, sv_rl_clock_fn clock, void *arg);
void sv_ratelimit_set_shared(sv_ratelimit *rl, const sv_rl_shared *shared, int down_rate);
void sv_ratelimit_free(sv_ratelimit *rl);
int64_t sv_ratelimit_try(sv_ratelimit *rl);
int64_t sv_ratelimit_try_ticket(sv_ratelimit *rl, uint64_t *ticket);
int sv_ratelimit_acquire(sv_ratelimit *rl);
int sv_ratelimit_acquire_ticket(sv_ratelimit *rl, uint64_t *ticket);
int sv_ratelimit_acquire_prio(sv_ratelimit *rl, uint64_t *ticket, int urgent, int (*yield)(void *),
                              void *arg);
void sv_ratelimit_kick(sv_ratelimit *rl);
void sv_ratelimit_done(sv_ratelimit *rl, uint64_t ticket);
void sv_ratelimit_penalize(sv_ratelimit *rl);
void sv_ratelimit_spent_at(sv_ratelimit *rl, int64_t when);
void sv_ratelimit_set_rate(sv_ratelimit *rl, int rate);
void sv_ratelimit_shutdown(sv_ratelimit *rl);
/* sv_ratelimit_current - the bucket's current rate (per second, for stats and tests) */
double sv_ratelimit_current(sv_ratelimit *rl);
/* sv_ratelimit_rate - the configured rate (ApiRate) */
int sv_ratelimit_rate(sv_ratelimit *rl);
/* sv_ratelimit_waits - how many acquire calls had to wait */
uint64_t sv_ratelimit_waits(sv_ratelimit *rl);

#endif
