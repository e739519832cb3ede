/*
 * stats.h - process-wide counters with dotted names ("api.calls",
 *	"api.saved.precheck", "cache.hit", "decision.reject", ...), bumped
 *	where things happen and read by the control socket's "stats".
 *	sv_stat_counter() returns a stable pointer that hot paths cache; the
 *	registry grows as names come (NULL, logged, only without memory).
 *
 *	Histograms ("api.latency.UpdateEmailIdentity") count durations in
 *	the fixed buckets of sesverify.h's sv_stat_hist (seconds,
 *	Prometheus's default set); sv_stat_observe() is a few relaxed atomic
 *	adds, no lock.
 */
#ifndef SV_STATS_H
#define SV_STATS_H

#include <stdint.h>

#include "compat.h"
#include "sesverify.h"

uint64_t *sv_stat_counter(const char *name);
static inline void sv_stat_inc(uint64_t *counter, uint64_t delta)
{
	if (counter)
		sv_atomic_fetch_add(counter, delta);
}
uint64_t sv_stat_get(const char *name);

/* public in sesverify.h: sv_stat_add, sv_stat_walk, sv_stat_hist,
 * sv_stat_hist_walk, sv_stat_hist_bound_us */
sv_stat_hist *sv_stat_histogram(const char *name);
void sv_stat_observe(sv_stat_hist *h, uint64_t usec);
void sv_stat_reset_all(void);

#endif
