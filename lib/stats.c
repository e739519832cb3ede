/*
 * stats.c - the counter registry (see stats.h).
 *	Append-only: a name, once registered, keeps its slot for the life of
 *	the process, so readers need no lock.  Registration takes a mutex.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sesverify.h"
#include "stats.h"

/*
 * Counters live in chunks of STAT_CHUNK, allocated as the registry grows,
 * so that a counter never moves (callers keep its pointer) and no table
 * fills up: only STAT_CHUNKS * STAT_CHUNK names (far beyond any use) or
 * no memory refuse a name, and then loudly.  A chunk is written before
 * nstats is published, so a reader that saw n may read the first n.
 */
#define STAT_CHUNK  64
#define STAT_CHUNKS 1024
#define HIST_NAME   48

struct counter {
	char *name;
	uint64_t value;
};
static struct counter *chunks[STAT_CHUNKS];
static unsigned nstats; /* published with release ordering */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

/* slot - the i-th counter (i below a published count) */
static struct counter *slot(unsigned i)
{
	return &chunks[i / STAT_CHUNK][i % STAT_CHUNK];
}

/* find - slot of name among the first n, or NULL */
static uint64_t *find(const char *name, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(slot(i)->name, name) == 0)
			return &slot(i)->value;
	return NULL;
}

/* add - register name as counter n (under stats_lock); NULL, logged, on failure */
static uint64_t *add(const char *name, unsigned n)
{
	struct counter *c;

	if (n / STAT_CHUNK >= STAT_CHUNKS) {
		sv_log(SV_LOG_ERR, "stats: counter %s not kept: %u counters already", name, n);
		return NULL;
	}
	if (chunks[n / STAT_CHUNK] == NULL &&
	    (chunks[n / STAT_CHUNK] = calloc(STAT_CHUNK, sizeof(struct counter))) == NULL) {
		sv_log(SV_LOG_ERR, "stats: counter %s not kept: out of memory", name);
		return NULL;
	}
	c = slot(n);
	if ((c->name = strdup(name)) == NULL) {
		sv_log(SV_LOG_ERR, "stats: counter %s not kept: out of memory", name);
		return NULL;
	}
	sv_atomic_store_release(&nstats, n + 1);
	return &c->value;
}

/* sv_stat_counter - stable pointer to a counter, registering it if new */
uint64_t *sv_stat_counter(const char *name)
{
	uint64_t *c;
	unsigned n = sv_atomic_load_acquire(&nstats);

	if ((c = find(name, n)) != NULL)
		return c;
	pthread_mutex_lock(&stats_lock);
	n = nstats;
	if ((c = find(name, n)) == NULL)
		c = add(name, n);
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
	uint64_t *c = find(name, sv_atomic_load_acquire(&nstats));
	return c ? sv_atomic_load(c) : 0;
}

/* sv_stat_walk - every counter in registration order */
void sv_stat_walk(void (*fn)(const char *name, uint64_t value, void *arg), void *arg)
{
	unsigned n = sv_atomic_load_acquire(&nstats);
	for (unsigned i = 0; i < n; i++)
		fn(slot(i)->name, sv_atomic_load(&slot(i)->value), arg);
}

/* Histograms: a second append-only registry, same rules. */
#define HIST_MAX 8

/* upper bounds of the buckets, microseconds */
static const uint64_t hist_le_us[SV_STAT_HIST_BUCKETS] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

/* sv_stat_hist_bound_us - public: upper bound of bucket b; UINT64_MAX for +Inf */
uint64_t sv_stat_hist_bound_us(unsigned b)
{
	return b < SV_STAT_HIST_BUCKETS ? hist_le_us[b] : UINT64_MAX;
}

static struct {
	char name[HIST_NAME];
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
	unsigned n = sv_atomic_load_acquire(&nhists);

	if ((h = find_hist(name, n)) != NULL)
		return h;
	pthread_mutex_lock(&stats_lock);
	n = nhists;
	if ((h = find_hist(name, n)) == NULL) {
		if (n < HIST_MAX && strlen(name) < HIST_NAME) {
			strcpy(hists[n].name, name);
			h = &hists[n].h;
			sv_atomic_store_release(&nhists, n + 1);
		} else {
			sv_log(SV_LOG_ERR, "stats: histogram %s not kept: %s", name,
			       n < HIST_MAX ? "name too long" : "table full");
		}
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
	while (b < SV_STAT_HIST_BUCKETS && usec > hist_le_us[b])
		b++;
	sv_atomic_fetch_add(&h->bucket[b], 1);
	sv_atomic_fetch_add(&h->sum_us, usec);
}

/* sv_stat_hist_walk - a copy of every histogram in registration order */
void sv_stat_hist_walk(void (*fn)(const char *name, const sv_stat_hist *h, void *arg), void *arg)
{
	unsigned n = sv_atomic_load_acquire(&nhists);
	sv_stat_hist copy;

	for (unsigned i = 0; i < n; i++) {
		for (unsigned b = 0; b <= SV_STAT_HIST_BUCKETS; b++)
			copy.bucket[b] = sv_atomic_load(&hists[i].h.bucket[b]);
		copy.sum_us = sv_atomic_load(&hists[i].h.sum_us);
		fn(hists[i].name, &copy, arg);
	}
}

/* sv_stat_reset_all - zero every counter and histogram (tests) */
void sv_stat_reset_all(void)
{
	unsigned n = sv_atomic_load_acquire(&nstats);
	for (unsigned i = 0; i < n; i++)
		sv_atomic_store(&slot(i)->value, 0);
	n = sv_atomic_load_acquire(&nhists);
	for (unsigned i = 0; i < n; i++) {
		for (unsigned b = 0; b <= SV_STAT_HIST_BUCKETS; b++)
			sv_atomic_store(&hists[i].h.bucket[b], 0);
		sv_atomic_store(&hists[i].h.sum_us, 0);
	}
}
