/*
 * stats.c - the counter registry (see stats.h).
 *	Append-only: a name, once registered, keeps its slot for the life of
 *	the process, so readers need no lock.  Registration takes a mutex.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "sesverify.h"
#include "stats.h"

#define STAT_MAX  128
#define STAT_NAME 48

static struct {
	char name[STAT_NAME];
	uint64_t value;
} stats[STAT_MAX];
static unsigned nstats; /* published with release ordering */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

/* find - slot of name among the first n, or NULL */
static uint64_t *find(const char *name, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(stats[i].name, name) == 0)
			return &stats[i].value;
	return NULL;
}

/* sv_stat_counter - stable pointer to a counter, registering it if new */
uint64_t *sv_stat_counter(const char *name)
{
	uint64_t *c;
	unsigned n = __atomic_load_n(&nstats, __ATOMIC_ACQUIRE);

	if ((c = find(name, n)) != NULL)
		return c;
	pthread_mutex_lock(&stats_lock);
	n = nstats;
	if ((c = find(name, n)) == NULL && n < STAT_MAX && strlen(name) < STAT_NAME) {
		strcpy(stats[n].name, name);
		c = &stats[n].value;
		__atomic_store_n(&nstats, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&stats_lock);
	return c;
}

/* sv_stat_add - public: bump a counter by name */
void sv_stat_add(const char *name, uint64_t delta)
{
	sv_stat_inc(sv_stat_counter(name), delta);
}

/* sv_stat_get - current value, 0 when never registered */
uint64_t sv_stat_get(const char *name)
{
	uint64_t *c = find(name, __atomic_load_n(&nstats, __ATOMIC_ACQUIRE));
	return c ? __atomic_load_n(c, __ATOMIC_RELAXED) : 0;
}

/* sv_stat_walk - every counter in registration order */
void sv_stat_walk(void (*fn)(const char *name, uint64_t value, void *arg), void *arg)
{
	unsigned n = __atomic_load_n(&nstats, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		fn(stats[i].name, __atomic_load_n(&stats[i].value, __ATOMIC_RELAXED), arg);
}

/* sv_stat_reset_all - zero every counter (tests) */
void sv_stat_reset_all(void)
{
	unsigned n = __atomic_load_n(&nstats, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		__atomic_store_n(&stats[i].value, 0, __ATOMIC_RELAXED);
}
