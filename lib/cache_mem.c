/*
 * cache_mem.c - the in-process cache backend (struct sv_cache_backend).
 *	Owns storage only: 64 shards, each a mutex, an open-addressing hash
 *	table and an LRU list, so that milter threads looking up different
 *	domains rarely meet on a lock and a lookup holds one for a few
 *	hundred ns.  Lookups take the shard's lock shared (a read-write
 *	lock preferring writers), so a lookup never waits for another
 *	lookup, even one whose thread was preempted holding it: on a busy
 *	2-CPU host with 64 milter threads on one popular domain, a mutex
 *	made every lookup queue behind a descheduled holder (MAIL FROM p99
 *	of tens of ms).  The only write a lookup does is the CLOCK
 *	reference byte, an atomic store.  The table is linear probing over 16-byte slots that
 *	carry the full 32-bit hash next to the entry pointer, kept at most
 *	half full: a hit costs one cache miss for the slot (its neighbours
 *	share the line) and one for the entry, where chaining paid a miss
 *	for every entry passed on the chain (at 1 M entries the lookup is
 *	bound by these DRAM misses, not by instructions).
 *	The size bound (max_entries) is global; the victim is chosen in the
 *	inserting shard by CLOCK, an approximation of least-recently-used
 *	that lets lookups set one byte instead of relinking a list.  TTL rules, validation and
 *	refresh policy live in cache.c and refresher.c.
 *
 *	An entry is one allocation: fixed fields, then the domain and the
 *	request id as NUL-terminated strings.  Attributes and error texts,
 *	which only unverified and failed records carry, hang off pointers.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "compat.h"
#include "stats.h"

#define NSHARD     64
#define SHARD_BITS 6

struct ent {
	struct ent *prev, *next; /* LRU list, most recent first */
	int64_t fetched_at, expires_at, api_checked_at, next_try;
	sv_attr *attrs;
	char *errmsg;
	char *ecode; /* NULL when no error code */
	uint32_t hash;
	uint16_t nattrs;
	uint16_t failures;
	uint8_t state, flags;
	uint8_t dlen;
	uint8_t ref; /* looked up since the eviction hand last passed */
	char strs[]; /* domain NUL request_id NUL */
};

struct slot {
	uint32_t hash;
	struct ent *e; /* NULL: empty */
};

struct shard {
	pthread_rwlock_t lock; /* lookups share it, changes take it alone */
	struct slot *tab;
	size_t mask; /* slots - 1 */
	size_t count, max;
	struct ent *head, *tail;
	char pad[64];
};

struct mem {
	struct shard shards[NSHARD];
	size_t max, total; /* total: atomic */
	uint64_t *stat_evicted;
};

/* hash - FNV-1a 32 */
static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* shard_of - the shard a hash lives in */
static struct shard *shard_of(struct mem *m, uint32_t h)
{
	return &m->shards[h & (NSHARD - 1)];
}

/* mem_open - empty shards */
static void *mem_open(size_t max_entries, char *err, size_t errlen)
{
	pthread_rwlockattr_t attr;
	struct mem *m;

	pthread_rwlockattr_init(&attr);
	/* a refresh must not starve behind a stream of lookups */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto nomem;
	for (int i = 0; i < NSHARD; i++) {
		struct shard *s = &m->shards[i];
		pthread_rwlock_init(&s->lock, &attr);
		s->mask = 63;
		s->max = SIZE_MAX;
		if ((s->tab = calloc(s->mask + 1, sizeof(*s->tab))) == NULL)
			goto nomem;
	}
	m->stat_evicted = sv_stat_counter("cache.evicted");
	m->max = max_entries ? max_entries : SIZE_MAX;
	pthread_rwlockattr_destroy(&attr);
	return m;
nomem:
	pthread_rwlockattr_destroy(&attr);
	if (m)
		for (int i = 0; i < NSHARD; i++)
			free(m->shards[i].tab);
	free(m);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* ent_free - release an entry and what hangs off it */
static void ent_free(struct ent *e)
{
	sv_attrs_free(e->attrs, e->nattrs);
	free(e->errmsg);
	free(e->ecode);
	free(e);
}

/* mem_close - free every entry */
static void mem_close(void *be)
{
	struct mem *m = be;

	for (int i = 0; i < NSHARD; i++) {
		struct shard *s = &m->shards[i];
		struct ent *e, *n;
		for (e = s->head; e; e = n) {
			n = e->next;
			ent_free(e);
		}
		free(s->tab);
		pthread_rwlock_destroy(&s->lock);
	}
	free(m);
}

/* home - the first slot a hash probes */
static size_t home(const struct shard *s, uint32_t h)
{
	return (h >> SHARD_BITS) & s->mask;
}

/* find - the slot index of domain in a locked shard, or -1 */
static long find(const struct shard *s, const char *domain, uint32_t h)
{
	for (size_t i = home(s, h);; i = (i + 1) & s->mask) {
		const struct slot *t = &s->tab[i];
		if (t->e == NULL)
			return -1;
		if (t->hash == h && strcmp(t->e->strs, domain) == 0)
			return (long)i;
	}
}

/* lookup - the entry for domain in a locked shard, or NULL */
static struct ent *lookup(const struct shard *s, const char *domain, uint32_t h)
{
	long i = find(s, domain, h);

	return i < 0 ? NULL : s->tab[i].e;
}

/* place - put e in the first free slot of its probe sequence */
static void place(struct slot *tab, size_t mask, struct ent *e)
{
	size_t i = (e->hash >> SHARD_BITS) & mask;

	while (tab[i].e)
		i = (i + 1) & mask;
	tab[i].hash = e->hash;
	tab[i].e = e;
}

/*
 * remove_slot - empty slot i, shifting later members of the cluster back
 *	(backward-shift deletion: no tombstones, probe sequences stay short)
 */
static void remove_slot(struct shard *s, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) & s->mask;
		if (s->tab[j].e == NULL)
			break;
		size_t k = home(s, s->tab[j].hash);
		/* move j to i unless its home lies cyclically in (i, j] */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			s->tab[i] = s->tab[j];
			i = j;
		}
	}
	s->tab[i].e = NULL;
	s->tab[i].hash = 0;
}

/* lru_unlink - take e out of the LRU list */
static void lru_unlink(struct shard *s, struct ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = e->next = NULL;
}

/* lru_front - make e the most recently used */
static void lru_front(struct shard *s, struct ent *e)
{
	e->prev = NULL;
	e->next = s->head;
	if (s->head)
		s->head->prev = e;
	s->head = e;
	if (!s->tail)
		s->tail = e;
}

/* grow - double the slot array (kept at most half full) */
static void grow(struct shard *s)
{
	size_t nb = (s->mask + 1) * 2;
	struct slot *tab = calloc(nb, sizeof(*tab));

	if (!tab)
		return; /* fuller table, still correct while a slot is free */
	for (size_t i = 0; i <= s->mask; i++)
		if (s->tab[i].e)
			place(tab, nb - 1, s->tab[i].e);
	free(s->tab);
	s->tab = tab;
	s->mask = nb - 1;
}

/* unlink_ent - remove e from the table and the LRU list (caller frees) */
static void unlink_ent(struct mem *m, struct shard *s, struct ent *e)
{
	long i = find(s, e->strs, e->hash);

	if (i >= 0)
		remove_slot(s, (size_t)i);
	lru_unlink(s, e);
	s->count--;
	sv_atomic_fetch_sub(&m->total, 1);
}

/*
 * insert - add a new entry; beyond MaxEntries evict in this shard
 *	Eviction is CLOCK (second chance) over the shard's list: a lookup
 *	only sets e->ref (no list surgery on the hot path), the hand at the
 *	tail gives referenced entries another round at the head and evicts
 *	the first unreferenced one.  The bound is global (one atomic count),
 *	the victim local, so a skewed shard cannot evict early.
 */
static int insert(struct mem *m, struct shard *s, struct ent *e)
{
	if ((s->count + 1) * 2 > s->mask + 1)
		grow(s);
	if (s->count + 1 > s->mask)
		return -1; /* grow failed and one slot must stay empty */
	place(s->tab, s->mask, e);
	lru_front(s, e);
	s->count++;
	sv_atomic_fetch_add(&m->total, 1);
	for (int spins = 0;
	     sv_atomic_load(&m->total) > m->max && s->tail && s->tail != e && spins < 1000;
	     spins++) {
		struct ent *old = s->tail;
		if (sv_atomic_load(&old->ref)) {
			sv_atomic_store(&old->ref, 0);
			lru_unlink(s, old);
			lru_front(s, old);
			continue;
		}
		unlink_ent(m, s, old);
		ent_free(old);
		sv_stat_inc(m->stat_evicted, 1);
	}
	return 0;
}

/* ent_new - an entry holding rec (deep copy), NULL on ENOMEM */
static struct ent *ent_new(const char *domain, uint32_t h, const sv_cache_rec *rec)
{
	size_t dl = strlen(domain), rl = strlen(rec->request_id);
	struct ent *e;

	if (dl > SV_DOMAIN_MAX || (e = calloc(1, sizeof(*e) + dl + rl + 2)) == NULL)
		return NULL;
	memcpy(e->strs, domain, dl + 1);
	memcpy(e->strs + dl + 1, rec->request_id, rl + 1);
	e->dlen = (uint8_t)dl;
	e->hash = h;
	e->state = (uint8_t)rec->state;
	e->flags = (uint8_t)rec->flags;
	e->failures = rec->failures > 65535 ? 65535 : (uint16_t)rec->failures;
	e->fetched_at = rec->fetched_at;
	e->expires_at = rec->expires_at;
	e->api_checked_at = rec->api_checked_at;
	e->next_try = rec->next_try;
	if (rec->error_code[0] && (e->ecode = strdup(rec->error_code)) == NULL)
		goto err;
	if (rec->error_message && (e->errmsg = strdup(rec->error_message)) == NULL)
		goto err;
	if (rec->nattrs) {
		sv_cache_rec tmp = {0};
		if (sv_cache_rec_set_attrs(&tmp, rec->attrs, rec->nattrs) < 0)
			goto err;
		e->attrs = tmp.attrs;
		e->nattrs = (uint16_t)tmp.nattrs;
	}
	return e;
err:
	ent_free(e);
	return NULL;
}

/* copy_str - bounded copy without printf machinery (hot path) */
static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* shallow - a record viewing e's data (no allocation; valid under the lock) */
static void shallow(const struct ent *e, sv_cache_rec *r)
{
	r->state = (sv_state)e->state;
	r->flags = e->flags;
	r->fetched_at = e->fetched_at;
	r->expires_at = e->expires_at;
	r->api_checked_at = e->api_checked_at;
	r->next_try = e->next_try;
	r->failures = e->failures;
	copy_str(r->request_id, sizeof(r->request_id), e->strs + e->dlen + 1);
	copy_str(r->error_code, sizeof(r->error_code), e->ecode ? e->ecode : "");
	r->error_message = e->errmsg;
	r->attrs = e->attrs;
	r->nattrs = e->nattrs;
}

/* mem_peek - hot path copy */
static int mem_peek(void *be, const char *domain, int64_t now, sv_entry_view *v, sv_cache_rec *meta)
{
	struct mem *m = be;
	uint32_t h = hash(domain);
	struct shard *s = shard_of(m, h);
	struct ent *e;
	sv_cache_rec r;

	pthread_rwlock_rdlock(&s->lock);
	if ((e = lookup(s, domain, h)) == NULL) {
		pthread_rwlock_unlock(&s->lock);
		return -1;
	}
	if (!sv_atomic_load(&e->ref))
		sv_atomic_store(&e->ref, 1); /* readers share the lock */
	shallow(e, &r);
	if (v)
		sv_cache_fill_view(&r, now, v);
	if (meta) {
		*meta = r;
		meta->error_message = NULL;
		meta->attrs = NULL;
		meta->nattrs = 0;
	}
	pthread_rwlock_unlock(&s->lock);
	return 0;
}

/* mem_mark - change flags; maybe create an unknown entry */
static int mem_mark(void *be, const char *domain, unsigned set, unsigned clear, int create)
{
	struct mem *m = be;
	uint32_t h = hash(domain);
	struct shard *s = shard_of(m, h);
	struct ent *e;
	int old;

	pthread_rwlock_wrlock(&s->lock);
	if ((e = lookup(s, domain, h)) == NULL) {
		sv_cache_rec r = {0};
		if (!create) {
			pthread_rwlock_unlock(&s->lock);
			return -1;
		}
		if ((e = ent_new(domain, h, &r)) == NULL) {
			pthread_rwlock_unlock(&s->lock);
			return -2;
		}
		if (insert(m, s, e) < 0) {
			pthread_rwlock_unlock(&s->lock);
			ent_free(e);
			return -2;
		}
	}
	old = e->flags;
	e->flags = (uint8_t)((e->flags | set) & ~clear);
	pthread_rwlock_unlock(&s->lock);
	return old;
}

/* mem_get - deep copy out */
static int mem_get(void *be, const char *domain, sv_cache_rec *out)
{
	struct mem *m = be;
	uint32_t h = hash(domain);
	struct shard *s = shard_of(m, h);
	struct ent *e;
	sv_cache_rec r;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&s->lock);
	if ((e = lookup(s, domain, h)) != NULL) {
		shallow(e, &r);
		rc = sv_cache_rec_copy(out, &r);
	}
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

/* mem_put - replace (or insert) a record; the refreshing bit stays as it is */
static int mem_put(void *be, const char *domain, const sv_cache_rec *rec)
{
	struct mem *m = be;
	uint32_t h = hash(domain);
	struct shard *s = shard_of(m, h);
	struct ent *e, *old;
	long i;
	int rc = 0;

	if ((e = ent_new(domain, h, rec)) == NULL)
		return -1;
	e->flags &= (uint8_t)~SV_REC_REFRESHING;
	pthread_rwlock_wrlock(&s->lock);
	if ((i = find(s, domain, h)) >= 0) {
		old = s->tab[i].e;
		e->flags |= old->flags & SV_REC_REFRESHING;
		s->tab[i].e = e;
		lru_unlink(s, old);
		lru_front(s, e);
		ent_free(old);
	} else {
		rc = insert(m, s, e);
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc < 0)
		ent_free(e);
	return rc;
}

/* mem_del - drop a record; -1 when absent */
static int mem_del(void *be, const char *domain)
{
	struct mem *m = be;
	uint32_t h = hash(domain);
	struct shard *s = shard_of(m, h);
	struct ent *e;

	pthread_rwlock_wrlock(&s->lock);
	if ((e = lookup(s, domain, h)) != NULL)
		unlink_ent(m, s, e);
	pthread_rwlock_unlock(&s->lock);
	if (!e)
		return -1;
	ent_free(e);
	return 0;
}

/* mem_walk - every record, one shard lock at a time */
static void mem_walk(void *be, sv_cache_walk_fn fn, void *arg)
{
	struct mem *m = be;
	sv_cache_rec r;

	for (int i = 0; i < NSHARD; i++) {
		struct shard *s = &m->shards[i];
		pthread_rwlock_rdlock(&s->lock);
		for (struct ent *e = s->head; e; e = e->next) {
			shallow(e, &r);
			fn(e->strs, &r, arg);
		}
		pthread_rwlock_unlock(&s->lock);
	}
}

/* mem_count - records held */
static size_t mem_count(void *be)
{
	struct mem *m = be;
	size_t n = 0;

	for (int i = 0; i < NSHARD; i++) {
		pthread_rwlock_rdlock(&m->shards[i].lock);
		n += m->shards[i].count;
		pthread_rwlock_unlock(&m->shards[i].lock);
	}
	return n;
}

const sv_cache_backend sv_cache_mem_backend = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .peek = mem_peek,
    .mark = mem_mark,
    .get = mem_get,
    .put = mem_put,
    .del = mem_del,
    .walk = mem_walk,
    .count = mem_count,
};
