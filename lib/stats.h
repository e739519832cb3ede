/*
 * stats.h - process-wide counters with dotted names ("api.calls",
 *	"api.saved.precheck", "cache.hit", "decision.reject", ...), bumped
 *	where things happen and read by the control socket's "stats".
 *	sv_stat_counter() returns a stable pointer that hot paths cache.
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
void sv_stat_walk(void (*fn)(const char *name, uint64_t value, void *arg), void *arg);
void sv_stat_reset_all(void);

#endif
