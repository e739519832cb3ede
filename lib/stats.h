/*
 * stats.h - process-wide counters with dotted names ("api.calls",
 *	"api.saved.precheck", "cache.hit", "decision.reject", ...), bumped
 *	where things happen and read by the control socket's "stats".
 *	sv_stat_counter() returns a stable pointer that hot paths cache.
 *
 *	Histograms ("api.latency.UpdateEmailIdentity") count durations in
 *	the fixed buckets of sv_stat_hist_le (seconds, Prometheus's default
 *	set); sv_stat_observe() is a few relaxed atomic adds, no lock.  The
 *	buckets are per bucket, not cumulative: a reader adds them up.
 */
#ifndef SV_STATS_H
#define SV_STATS_H

#include <stdint.h>

uint64_t *sv_stat_counter(const char *name);
static inline void sv_stat_inc(uint64_t *counter, uint64_t delta)
{
	if (counter)
		__atomic_fetch_add(counter, delta, __ATOMIC_RELAXED);
}
uint64_t sv_stat_get(const char *name);

#define SV_STAT_HIST_BUCKETS 11
extern const uint64_t sv_stat_hist_le_us[SV_STAT_HIST_BUCKETS]; /* upper bounds, microseconds */
typedef struct sv_stat_hist {
	uint64_t bucket[SV_STAT_HIST_BUCKETS + 1]; /* last: above every bound (+Inf) */
	uint64_t sum_us;
} sv_stat_hist;
sv_stat_hist *sv_stat_histogram(const char *name);
void sv_stat_observe(sv_stat_hist *h, uint64_t usec);
void sv_stat_hist_walk(void (*fn)(const char *name, const sv_stat_hist *h, void *arg), void *arg);
void sv_stat_walk(void (*fn)(const char *name, uint64_t value, void *arg), void *arg);
void sv_stat_reset_all(void);

#endif
