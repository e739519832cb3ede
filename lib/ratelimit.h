/*
 * NAME
 *	ratelimit 3h - the process-wide API rate limiter
 * SYNOPSIS
 *	#include "ratelimit.h"
 *
 *	sv_ratelimit *sv_ratelimit_new(int rate, sv_rl_clock_fn clock, void *arg);
 *	int64_t sv_ratelimit_try(sv_ratelimit *rl);
 *	int sv_ratelimit_acquire(sv_ratelimit *rl);
int sv_ratelimit_acquire_ticket(sv_ratelimit *rl, uint64_t *ticket);
void sv_ratelimit_done(sv_ratelimit *rl, uint64_t ticket);
 *	void sv_ratelimit_penalize(sv_ratelimit *rl);
 *	void sv_ratelimit_set_rate(sv_ratelimit *rl, int rate);
 *	void sv_ratelimit_shutdown(sv_ratelimit *rl);
 *	void sv_ratelimit_free(sv_ratelimit *rl);
 * DESCRIPTION
 *	One limiter gates every API call of the process.  Two rules apply
 *	to each grant:
 *
 *	1. a token bucket refilled at the current (adaptive) rate, holding
 *	   at most that many tokens, and
 *	2. a hard sliding window: of the last "rate" grants, the oldest must
 *	   be at least one second plus a small margin old.  The server counts
 *	   requests by arrival time, which lies between our grant and the
 *	   answer; callers that report the answer (sv_ratelimit_done) move the
 *	   grant's time there, so the rule holds for arrivals too, whatever
 *	   the connection set-up or paging delays.
 *
 *	sv_ratelimit_penalize() reacts to RequestLimitExceeded/LimitExceeded:
 *	the bucket rate halves (at most once per second, floor 1/s) and then
 *	recovers additively, rate/10 per second, up to the configured rate.
 *
 *	sv_ratelimit_try() never blocks: 0 means granted (and recorded), a
 *	positive value is the number of microseconds until a grant may be
 *	possible.  sv_ratelimit_acquire() blocks until granted (0) or until
 *	sv_ratelimit_shutdown() (-1).  sv_ratelimit_acquire_ticket() also
 *	names the grant; sv_ratelimit_done(ticket) after the answer arrived
 *	moves that grant's time to "now", because the server counted the
 *	request at its arrival, somewhere between grant and answer (a new
 *	TLS connection or the earlier pages of a list delay it by tens of ms).  The clock is
injectable (monotonic *	microseconds) so the rules are unit-tested without sleeping; acquire
 *	always sleeps on the real monotonic clock.
 *
 *	Counters: "ratelimit.waits" (acquire had to wait), "ratelimit.penalties".
 */
#ifndef SV_RATELIMIT_H
#define SV_RATELIMIT_H

#include <stdint.h>

typedef struct sv_ratelimit sv_ratelimit;
typedef int64_t (*sv_rl_clock_fn)(void *arg);

#define SV_RL_MARGIN_US 10000 /* added to the 1-second window: timer slack */

sv_ratelimit *sv_ratelimit_new(int rate, sv_rl_clock_fn clock, void *arg);
void sv_ratelimit_free(sv_ratelimit *rl);
int64_t sv_ratelimit_try(sv_ratelimit *rl);
int sv_ratelimit_acquire(sv_ratelimit *rl);
int sv_ratelimit_acquire_ticket(sv_ratelimit *rl, uint64_t *ticket);
void sv_ratelimit_done(sv_ratelimit *rl, uint64_t ticket);
void sv_ratelimit_penalize(sv_ratelimit *rl);
void sv_ratelimit_set_rate(sv_ratelimit *rl, int rate);
void sv_ratelimit_shutdown(sv_ratelimit *rl);
/* sv_ratelimit_current - the bucket's current rate (per second, for stats and tests) */
double sv_ratelimit_current(sv_ratelimit *rl);
/* sv_ratelimit_rate - the configured rate (ApiRate) */
int sv_ratelimit_rate(sv_ratelimit *rl);
/* sv_ratelimit_waits - how many acquire calls had to wait */
uint64_t sv_ratelimit_waits(sv_ratelimit *rl);

#endif
