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

#define STAT_MAX  256
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

/* Histograms: a second append-only registry, same rules. */
#define HIST_MAX 8

const uint64_t sv_stat_hist_le_us[SV_STAT_HIST_BUCKETS] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

static struct {
	char name[STAT_NAME];
	sv_stat_hist h;
} hists[HIST_MAX];
static unsigned nhists; /* published with release ordering */

/* find_hist - histogram of name among the first n, or NULL */
static sv_stat_hist *find_hist(const char *name, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(hists[i].name, name) == 0)
			return &hists[i].h;
	return NULL;
}

/* sv_stat_histogram - stable pointer to a histogram, registering it if new */
sv_stat_hist *sv_stat_histogram(const char *name)
{
	sv_stat_hist *h;
	unsigned n = __atomic_load_n(&nhists, __ATOMIC_ACQUIRE);

	if ((h = find_hist(name, n)) != NULL)
		return h;
	pthread_mutex_lock(&stats_lock);
	n = nhists;
	if ((h = find_hist(name, n)) == NULL && n < HIST_MAX && strlen(name) < STAT_NAME) {
		strcpy(hists[n].name, name);
		h = &hists[n].h;
		__atomic_store_n(&nhists, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&stats_lock);
	return h;
}

/* sv_stat_observe - count one duration in its bucket */
void sv_stat_observe(sv_stat_hist *h, uint64_t usec)
{
	unsigned b = 0;

	if (h == NULL)
		return;
	while (b < SV_STAT_HIST_BUCKETS && usec > sv_stat_hist_le_us[b])
		b++;
	__atomic_fetch_add(&h->bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_us, usec, __ATOMIC_RELAXED);
}

/* sv_stat_hist_walk - a copy of every histogram in registration order */
void sv_stat_hist_walk(void (*fn)(const char *name, const sv_stat_hist *h, void *arg), void *arg)
{
	unsigned n = __atomic_load_n(&nhists, __ATOMIC_ACQUIRE);
	sv_stat_hist copy;

	for (unsigned i = 0; i < n; i++) {
		for (unsigned b = 0; b <= SV_STAT_HIST_BUCKETS; b++)
			copy.bucket[b] = __atomic_load_n(&hists[i].h.bucket[b], __ATOMIC_RELAXED);
		copy.sum_us = __atomic_load_n(&hists[i].h.sum_us, __ATOMIC_RELAXED);
		fn(hists[i].name, &copy, arg);
	}
}

/* sv_stat_reset_all - zero every counter and histogram (tests) */
void sv_stat_reset_all(void)
{
	unsigned n = __atomic_load_n(&nstats, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		__atomic_store_n(&stats[i].value, 0, __ATOMIC_RELAXED);
	n = __atomic_load_n(&nhists, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++) {
		for (unsigned b = 0; b <= SV_STAT_HIST_BUCKETS; b++)
			__atomic_store_n(&hists[i].h.bucket[b], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&hists[i].h.sum_us, 0, __ATOMIC_RELAXED);
	}
}
