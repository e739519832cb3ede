/*
 * NAME
 *	engine 3 - sv_engine_*: the cache and its refresher behind one handle
 * DESCRIPTION
 *	Owns the public engine API of sesverify.h: the lookup hot path, the
 *	waiter (one condition variable and a generation counter bumped each
 *	time a refresh completes), the snapshot timer (every five minutes
 *	when something changed, and at sv_engine_free), the periodic refresh
 *	of the identity list, statistics and reconfiguration.  Storage and
 *	TTL rules are cache.c's, network work is refresher.c's, pacing is
 *	ratelimit.c's, the file format is snapshot.c's.
 *
 *	sv_engine_lookup() normalises the domain, copies the record into the
 *	caller's view under one shard lock and decides, without I/O, whether
 *	to queue a refresh: a never-seen domain (or one past MaxStale) with
 *	top priority, an expired one (when its retry backoff allows), or a
 *	fresh one in the last tenth of its TTL (refresh ahead).  Records past
 *	MaxStale are reported as unknown.
 *
 *	sv_engine_walk() copies the list of domains first and calls fn
 *	without holding any cache lock, so fn may call back into the engine.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "compat.h"
#include "credentials.h"
#include "log.h"
#include "ratelimit.h"
#include "refresher.h"
#include "sesverify.h"
#include "snapshot.h"
#include "redis.h"
#include "stats.h"
#include "tc3sign.h"

#define ACCOUNT_LEN     16 /* hex digits of the account identity */
#define DEF_RATE        20
#define DEF_WORKERS     4
#define DEF_MAX_ENTRIES 200000
#define SAVE_EVERY_MS   (5 * 60 * 1000)
#define DEF_LIST_MS     (5 * 60 * 1000) /* ListInterval of a config without it */

struct sv_engine {
	const sv_config *cfg;
	sv_config *own_cfg; /* when created with NULL */
	sv_cache *cache;
	sv_ratelimit *rl;
	sv_shared *shared; /* Redis set: the account's budget across hosts */
	sv_refresher *ref;
	sv_cache_ttl ttl; /* fields read with __atomic on the hot path */
	char *cache_file;
	char account[ACCOUNT_LEN + 1]; /* account_of(cfg); with cache_file under save_lock */
	int warm_up, started;

	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	uint64_t gen;
	int waiters, closing; /* in sv_engine_wait; no more waiting (stop) */

	pthread_mutex_t hk_lock, save_lock;
	pthread_cond_t hk_cond;
	pthread_t hk;
	int hk_started, hk_stop;
	int64_t list_every; /* ListInterval; under hk_lock */
	uint64_t dirty;

	struct {
		uint64_t *hit, *miss, *stale_served, *ahead, *invalid, *saves, *save_errors;
	} st;
};

/* ------------------------------------------------------------------ */

/* on_done - a refresh finished: wake waiters, remember to save */
static void on_done(const char *domain, void *arg)
{
	sv_engine *e = arg;

	(void)domain;
	__atomic_fetch_add(&e->dirty, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&e->wait_lock);
	e->gen++;
	pthread_cond_broadcast(&e->wait_cond);
	pthread_mutex_unlock(&e->wait_lock);
}

/*
 * account_of - the account identity of cfg: the first 16 hex digits of
 *	SHA-256 over Region, Endpoint and SecretId (never the key).  Answers
 *	learned under one account are not answers of another: CacheFile
 *	names it, and a reload that changes it drops the cache.  Credentials
 *	that cannot be read give the identity of "no SecretId".
 */
static void account_of(const sv_config *cfg, char out[ACCOUNT_LEN + 1])
{
	sv_credentials cred;
	char err[256], buf[2048], hex[SV_TC3_HEX];
	int n;

	memset(&cred, 0, sizeof(cred));
	if (sv_credentials_resolve(cfg, &cred, err, sizeof(err)) < 0)
		memset(&cred, 0, sizeof(cred));
	n = snprintf(buf, sizeof(buf), "sesverify-account\n%s\n%s\n%s",
	             cfg->region ? cfg->region : "ap-guangzhou",
	             cfg->endpoint ? cfg->endpoint : "https://ses.tencentcloudapi.com",
	             cred.secret_id ? cred.secret_id : "");
	sv_credentials_clear(&cred);
	if (n < 0 || (size_t)n >= sizeof(buf) || sv_tc3_sha256_hex(buf, (size_t)n, hex) < 0)
		snprintf(hex, sizeof(hex), "%s", "unknown-account-identity");
	memcpy(out, hex, ACCOUNT_LEN);
	out[ACCOUNT_LEN] = 0;
}

/* apply_config - copy the scalar settings of cfg */
static void apply_config(sv_engine *e, const sv_config *cfg)
{
	sv_cache_ttl t;

	sv_cache_ttl_init(&t, cfg);
	__atomic_store_n(&e->ttl.max_stale, t.max_stale, __ATOMIC_RELAXED);
	e->ttl.verified = t.verified;
	e->ttl.unverified = t.unverified;
	e->ttl.not_exist = t.not_exist;
	e->ttl.error = t.error;
	e->ttl.max_api_age = t.max_api_age;
	pthread_mutex_lock(&e->hk_lock);
	e->list_every = cfg->list_interval > 0 ? cfg->list_interval : DEF_LIST_MS;
	pthread_mutex_unlock(&e->hk_lock);
}

/* sv_engine_new - cache + refresher for cfg; NULL and err on failure */
sv_engine *sv_engine_new(const sv_config *cfg, char *err, size_t errlen)
{
	sv_engine *e;
	sv_refresher_env env;
	size_t max_entries;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto nomem;
	pthread_mutex_init(&e->wait_lock, NULL);
	sv_cond_init_mono(&e->wait_cond);
	pthread_mutex_init(&e->hk_lock, NULL);
	pthread_mutex_init(&e->save_lock, NULL);
	sv_cond_init_mono(&e->hk_cond);
	if (cfg == NULL && (cfg = e->own_cfg = sv_config_defaults()) == NULL)
		goto nomem;
	e->cfg = cfg;
	apply_config(e, cfg);
	e->warm_up = cfg->warm_up;
	account_of(cfg, e->account);
	if (cfg->cache_file && (e->cache_file = strdup(cfg->cache_file)) == NULL)
		goto nomem;
	max_entries = cfg->max_entries ? cfg->max_entries : DEF_MAX_ENTRIES;
	if ((e->cache = sv_cache_open(NULL, max_entries, err, errlen)) == NULL)
		goto fail;
	if ((e->rl = sv_ratelimit_new(cfg->api_rate > 0 ? cfg->api_rate : DEF_RATE, NULL, NULL)) ==
	    NULL)
		goto nomem;
	if (cfg->redis && (e->shared = sv_shared_new(cfg, e->rl, err, errlen)) == NULL)
		goto fail;
	memset(&env, 0, sizeof(env));
	env.cache = e->cache;
	env.rl = e->rl;
	env.cfg = cfg;
	env.ttl = e->ttl;
	env.workers = cfg->refresh_workers > 0 ? cfg->refresh_workers : DEF_WORKERS;
	env.max_jobs = max_entries < 10000 ? 10000 : max_entries;
	env.done = on_done;
	env.done_arg = e;
#ifdef HAVE_HIREDIS
	if (e->shared) {
		env.shared_get = sv_shared_answer_get;
		env.shared_put = sv_shared_answer_put;
		env.shared_arg = e->shared;
	}
#endif
	if ((e->ref = sv_refresher_new(&env, err, errlen)) == NULL)
		goto fail;
	e->st.hit = sv_stat_counter("cache.hit");
	e->st.miss = sv_stat_counter("cache.miss");
	e->st.stale_served = sv_stat_counter("cache.stale_served");
	e->st.ahead = sv_stat_counter("cache.refresh_ahead");
	e->st.invalid = sv_stat_counter("cache.invalid_domain");
	e->st.saves = sv_stat_counter("snapshot.saves");
	e->st.save_errors = sv_stat_counter("snapshot.errors");
	return e;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	sv_engine_free(e);
	return NULL;
}

/* load_put - a snapshot record into the cache */
static int load_put(const char *domain, const sv_cache_rec *rec, void *arg)
{
	sv_engine *e = arg;

	return sv_cache_put(e->cache, domain, rec);
}

/* save_now - write the snapshot (serialised) */
static int save_now(sv_engine *e)
{
	char err[512];
	size_t n = 0;
	uint64_t dirty = __atomic_load_n(&e->dirty, __ATOMIC_RELAXED);
	sv_snapshot_ctx x = {0, NULL};
	char path[4096];
	int rc;

	/* cache_file is replaced by a reload under save_lock: read it only there */
	pthread_mutex_lock(&e->save_lock);
	if (!e->cache_file) {
		pthread_mutex_unlock(&e->save_lock);
		return -1;
	}
	snprintf(path, sizeof(path), "%s", e->cache_file);
	x.shift = sv_cache_wall_shift();
	x.account = e->account;
	rc = sv_snapshot_save_ex(e->cache, path, sv_cache_now_ms(), &x, &n, err, sizeof(err));
	pthread_mutex_unlock(&e->save_lock);
	if (rc < 0) {
		sv_stat_inc(e->st.save_errors, 1);
		sv_log(SV_LOG_ERR, "cache snapshot not saved: %s", err);
		return -1;
	}
	__atomic_fetch_sub(&e->dirty, dirty, __ATOMIC_RELAXED);
	sv_stat_inc(e->st.saves, 1);
	sv_log(SV_LOG_INFO, "cache snapshot saved: %zu records to %s", n, path);
	return 0;
}

/* housekeeper - periodic snapshot and identity-list refresh */
static void *housekeeper(void *arg)
{
	sv_engine *e = arg;
	int64_t last_save = sv_cache_now_ms(), last_list = last_save;

	pthread_mutex_lock(&e->hk_lock);
	while (!e->hk_stop) {
		struct timespec ts = sv_mono_deadline(1000);
		int64_t now, list_every;
		pthread_cond_timedwait(&e->hk_cond, &e->hk_lock, &ts);
		if (e->hk_stop)
			break;
		list_every = e->list_every;
		pthread_mutex_unlock(&e->hk_lock);
		now = sv_cache_now_ms();
		if (now - last_save >= SAVE_EVERY_MS) {
			last_save = now;
			if (__atomic_load_n(&e->dirty, __ATOMIC_RELAXED))
				save_now(e);
		}
		if (now - last_list >= list_every) {
			last_list = now;
			sv_refresher_want_list(e->ref);
		}
		pthread_mutex_lock(&e->hk_lock);
	}
	pthread_mutex_unlock(&e->hk_lock);
	return NULL;
}

/*
 * remove_stale_tmp - delete CacheFile.tmpXXXXXX files a killed writer left
 *	The snapshot is written to mkstemp's "<CacheFile>.tmpXXXXXX" and
 *	renamed; a process killed in between leaves the temporary file
 *	behind, one per kill.  At start no writer of ours is running (one
 *	engine per CacheFile), so exactly that pattern, as a regular file
 *	owned by us, is removed.  *newest becomes the latest modification
 *	time among them if later.
 */
static void remove_stale_tmp(const char *cache_file, struct timespec *newest)
{
	char dir[4096], path[4096 + 256];
	const char *slash = strrchr(cache_file, '/'), *base;
	size_t blen;
	struct dirent *d;
	struct stat st;
	DIR *dh;

	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - cache_file),
		         slash == cache_file ? "/" : cache_file);
		base = slash + 1;
	} else {
		snprintf(dir, sizeof(dir), ".");
		base = cache_file;
	}
	blen = strlen(base);
	if ((dh = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dh)) != NULL) {
		if (strlen(d->d_name) != blen + 10 || strncmp(d->d_name, base, blen) != 0 ||
		    strncmp(d->d_name + blen, ".tmp", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (st.st_mtim.tv_sec > newest->tv_sec ||
		    (st.st_mtim.tv_sec == newest->tv_sec && st.st_mtim.tv_nsec > newest->tv_nsec))
			*newest = st.st_mtim;
		if (unlink(path) == 0)
			sv_log(SV_LOG_NOTICE, "removed %s, left by an interrupted snapshot save",
			       path);
		else
			sv_log(SV_LOG_WARNING, "cannot remove %s: %s", path, strerror(errno));
	}
	closedir(dh);
}

/* ts_us - a timespec in microseconds */
static int64_t ts_us(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000 + t->tv_nsec / 1000;
}

/* sv_engine_api_spent - the previous process may have spent until when */
void sv_engine_api_spent(sv_engine *e, const struct timespec *when)
{
	sv_ratelimit_spent_at(e->rl, ts_us(when));
}

/*
 * hold_after_recent_save - the process that wrote the snapshot (or the
 *	temporary file of an interrupted save) less than a second ago, such
 *	as a daemon that just stopped, may have used this second's API
 *	budget: count it as spent at that write.  A modification time in
 *	the future (clock stepped back) counts as now.
 */
static void hold_after_recent_save(sv_engine *e, const struct timespec *written)
{
	struct timespec real, mono;
	int64_t age_us;

	if (written->tv_sec == 0 && written->tv_nsec == 0)
		return;
	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	age_us = ts_us(&real) - ts_us(written);
	if (age_us >= 1000000 + SV_RL_MARGIN_US)
		return;
	if (age_us < 0)
		age_us = 0;
	sv_ratelimit_spent_at(e->rl, ts_us(&mono) - age_us);
	sv_log(SV_LOG_INFO,
	       "%s: written %lld ms ago: no API request for %lld ms (the process that "
	       "wrote it may have used this second's ApiRate budget)",
	       e->cache_file, (long long)(age_us / 1000),
	       (long long)((1000000 + SV_RL_MARGIN_US - age_us) / 1000));
}

/* sv_engine_start - load the snapshot, start workers, warm up */
int sv_engine_start(sv_engine *e)
{
	sv_snapshot_stats st;
	char err[512];

	if (e->started)
		return 0;
	if (e->cache_file) {
		struct timespec written = {0, 0};
		struct stat sb;
		sv_snapshot_ctx x = {sv_cache_wall_shift(), e->account};

		if (stat(e->cache_file, &sb) == 0)
			written = sb.st_mtim;
		remove_stale_tmp(e->cache_file, &written);
		hold_after_recent_save(e, &written);
		if (sv_snapshot_load_ex(e->cache_file, sv_cache_now_ms(), &x, &e->ttl, load_put, e,
		                        &st, err, sizeof(err)) < 0)
			sv_log(SV_LOG_WARNING, "cache snapshot ignored, starting empty: %s", err);
		else if (st.loaded || st.bad || st.expired)
			sv_log(st.bad ? SV_LOG_WARNING : SV_LOG_INFO,
			       "cache snapshot %s: %zu records loaded, %zu invalid skipped, %zu "
			       "too old",
			       e->cache_file, st.loaded, st.bad, st.expired);
	}
	if (sv_refresher_start(e->ref, e->warm_up) < 0) {
		sv_log(SV_LOG_ERR, "cannot start refresher threads");
		return -1;
	}
	if (pthread_create(&e->hk, NULL, housekeeper, e) == 0)
		e->hk_started = 1;
	e->started = 1;
	return 0;
}

/* ------------------------------------------------------------------ */

/* age_view - final state of a view: past MaxStale is unknown; what to queue */
static int age_view(sv_engine *e, const sv_cache_rec *meta, int64_t now, sv_entry_view *v)
{
	sv_cache_ttl t = {0};

	t.max_stale = __atomic_load_n(&e->ttl.max_stale, __ATOMIC_RELAXED);
	if (!sv_cache_servable(meta, now, &t)) {
		v->state = SV_STATE_UNKNOWN;
		return SV_PRIO_UNKNOWN;
	}
	if (now >= meta->expires_at)
		return now >= meta->next_try ? SV_PRIO_EXPIRED : -1;
	if (now >= meta->expires_at - (meta->expires_at - meta->fetched_at) / 10)
		return SV_PRIO_AHEAD;
	return -1;
}

/* wall_view - the view's times as Unix seconds (the cache runs on a monotonic clock) */
static void wall_view(sv_entry_view *v, int64_t shift_ms)
{
	time_t s = (time_t)(shift_ms / 1000);

	if (v->fetched_at)
		v->fetched_at += s;
	if (v->expires_at)
		v->expires_at += s;
	if (v->api_checked_at)
		v->api_checked_at += s;
}

/* sv_engine_lookup - hot path: copy, maybe queue, never wait */
sv_state sv_engine_lookup(sv_engine *e, const char *domain, sv_entry_view *out)
{
	char norm[SV_DOMAIN_MAX + 1];
	const char *why;
	sv_cache_rec meta;
	int64_t now = sv_cache_now_ms();
	int prio;

	memset(out, 0, sizeof(*out));
	if (sv_domain_normalize(domain, norm, &why) < 0) {
		sv_stat_inc(e->st.invalid, 1);
		out->state = SV_STATE_ERROR;
		snprintf(out->error_code, sizeof(out->error_code), "Domain.Invalid");
		return out->state;
	}
	if (sv_cache_peek(e->cache, norm, now, out, &meta) < 0) {
		sv_stat_inc(e->st.miss, 1);
		memset(out, 0, sizeof(*out));
		out->state = SV_STATE_UNKNOWN;
		out->refreshing = sv_refresher_enqueue(e->ref, norm, SV_PRIO_UNKNOWN, 0) == 0;
		return out->state;
	}
	prio = age_view(e, &meta, now, out);
	wall_view(out, sv_cache_wall_shift());
	if (out->state == SV_STATE_UNKNOWN)
		sv_stat_inc(e->st.miss, 1);
	else if (out->stale)
		sv_stat_inc(e->st.stale_served, 1);
	else
		sv_stat_inc(e->st.hit, 1);
	/* mail waits for an unknown domain: its refresh, queued at a lower
	 * priority by the warm-up, an expiry or a reconcile, jumps the queue */
	if (prio >= 0 && (!(meta.flags & SV_REC_REFRESHING) || prio == SV_PRIO_UNKNOWN)) {
		if (prio == SV_PRIO_AHEAD)
			sv_stat_inc(e->st.ahead, 1);
		if (sv_refresher_enqueue(e->ref, norm, prio, 0) == 0)
			out->refreshing = true;
	}
	return out->state;
}

/* lookup_all - look every domain up; how many are unknown */
static size_t lookup_all(sv_engine *e, const char *const *domains, size_t n, sv_entry_view *outs)
{
	sv_entry_view tmp;
	size_t unknown = 0;

	for (size_t i = 0; i < n; i++)
		if (sv_engine_lookup(e, domains[i], outs ? &outs[i] : &tmp) == SV_STATE_UNKNOWN)
			unknown++;
	return unknown;
}

/*
 * sv_engine_wait_all - wait up to timeout_ms in all until no domain is unknown
 *	Counted in waiters, so that sv_engine_free releases nothing while a
 *	thread still waits; sv_engine_wake_waiters ends every wait at once.
 */
size_t sv_engine_wait_all(sv_engine *e, const char *const *domains, size_t n, int64_t timeout_ms,
                          sv_entry_view *outs)
{
	struct timespec until = sv_mono_deadline(timeout_ms > 0 ? timeout_ms : 0);
	uint64_t gen;
	size_t unknown;
	int timed_out = 0;

	pthread_mutex_lock(&e->wait_lock);
	e->waiters++;
	for (;;) {
		gen = e->gen;
		pthread_mutex_unlock(&e->wait_lock);
		unknown = lookup_all(e, domains, n, outs);
		pthread_mutex_lock(&e->wait_lock);
		if (unknown == 0 || timeout_ms <= 0 || timed_out || e->closing)
			break;
		while (e->gen == gen && !e->closing && !timed_out)
			timed_out =
			    pthread_cond_timedwait(&e->wait_cond, &e->wait_lock, &until) != 0 &&
			    sv_mono_passed(&until);
	}
	if (--e->waiters == 0 && e->closing)
		pthread_cond_broadcast(&e->wait_cond); /* sv_engine_free waits for this */
	pthread_mutex_unlock(&e->wait_lock);
	return unknown;
}

/* sv_engine_wake_waiters - end every sv_engine_wait now; later ones do not wait */
void sv_engine_wake_waiters(sv_engine *e)
{
	pthread_mutex_lock(&e->wait_lock);
	e->closing = 1;
	pthread_cond_broadcast(&e->wait_cond);
	pthread_mutex_unlock(&e->wait_lock);
}

/* sv_engine_wait - wait up to timeout_ms for a non-unknown answer */
sv_state sv_engine_wait(sv_engine *e, const char *domain, int64_t timeout_ms, sv_entry_view *out)
{
	sv_engine_wait_all(e, &domain, 1, timeout_ms, out);
	return out->state;
}

/* sv_engine_refresh - queue an immediate refresh (API call) of a domain */
int sv_engine_refresh(sv_engine *e, const char *domain)
{
	char norm[SV_DOMAIN_MAX + 1];
	const char *why;

	if (sv_domain_normalize(domain, norm, &why) < 0)
		return -1;
	return sv_refresher_enqueue(e->ref, norm, SV_PRIO_UNKNOWN, SV_JOB_FORCE);
}

/* sv_engine_forget - drop a domain from the cache; 0, or -1 when absent */
int sv_engine_forget(sv_engine *e, const char *domain)
{
	char norm[SV_DOMAIN_MAX + 1];
	const char *why;

	if (sv_domain_normalize(domain, norm, &why) < 0)
		return -1;
	if (sv_cache_del(e->cache, norm) < 0)
		return -1;
	__atomic_fetch_add(&e->dirty, 1, __ATOMIC_RELAXED);
	return 0;
}

struct names {
	char **v;
	size_t n, cap;
	int failed;
};

/* collect - remember one domain name */
static void collect(const char *domain, const sv_cache_rec *rec, void *arg)
{
	struct names *nm = arg;

	(void)rec;
	if (nm->failed)
		return;
	if (nm->n == nm->cap) {
		size_t nc = nm->cap ? nm->cap * 2 : 256;
		char **nv = realloc(nm->v, nc * sizeof(*nv));
		if (!nv) {
			nm->failed = 1;
			return;
		}
		nm->v = nv;
		nm->cap = nc;
	}
	if ((nm->v[nm->n] = strdup(domain)) == NULL)
		nm->failed = 1;
	else
		nm->n++;
}

/* sv_engine_walk - fn for each entry, no lock held while fn runs */
void sv_engine_walk(sv_engine *e, void (*fn)(const char *domain, const sv_entry_view *v, void *arg),
                    void *arg)
{
	struct names nm = {0};
	sv_entry_view v;
	sv_cache_rec meta;
	int64_t now = sv_cache_now_ms(), shift = sv_cache_wall_shift();

	sv_cache_walk(e->cache, collect, &nm);
	if (nm.failed)
		sv_log(SV_LOG_WARNING, "cache walk: out of memory, listing is incomplete");
	for (size_t i = 0; i < nm.n; i++) {
		if (sv_cache_peek(e->cache, nm.v[i], now, &v, &meta) == 0) {
			age_view(e, &meta, now, &v);
			wall_view(&v, shift);
			fn(nm.v[i], &v, arg);
		}
		free(nm.v[i]);
	}
	free(nm.v);
}

struct by_state {
	uint64_t n[SV_STATE_ERROR + 1];
	uint64_t stale, total;
	int64_t now;
};

/* count_state - tally one record */
static void count_state(const char *domain, const sv_cache_rec *rec, void *arg)
{
	struct by_state *bs = arg;

	(void)domain;
	if ((unsigned)rec->state <= SV_STATE_ERROR)
		bs->n[rec->state]++;
	if (rec->state != SV_STATE_UNKNOWN && bs->now >= rec->expires_at)
		bs->stale++;
	bs->total++;
}

/* sv_engine_stats - every counter, then cache.entries.* and queue figures */
void sv_engine_stats(sv_engine *e, void (*fn)(const char *name, uint64_t value, void *arg),
                     void *arg)
{
	struct by_state bs;
	char name[64];

	memset(&bs, 0, sizeof(bs));
	bs.now = sv_cache_now_ms();
	sv_stat_walk(fn, arg);
	sv_cache_walk(e->cache, count_state, &bs);
	fn("cache.entries", bs.total, arg);
	for (int s = 0; s <= SV_STATE_ERROR; s++) {
		snprintf(name, sizeof(name), "cache.entries.%s", sv_state_name((sv_state)s));
		fn(name, bs.n[s], arg);
	}
	fn("cache.entries.stale", bs.stale, arg);
	fn("refresh.pending", sv_refresher_pending(e->ref), arg);
	fn("ratelimit.rate", (uint64_t)sv_ratelimit_current(e->rl), arg);
	if (e->shared)
		fn("redis.up", (uint64_t)sv_shared_up(e->shared), arg);
#if defined(HAVE_MALLINFO2) && defined(HAVE_MALLOC_H)
	{
		/* the whole process's malloc heap, every arena: a leak shows here
		 * long before it shows in RSS, which swings with freed pages */
		struct mallinfo2 mi = mallinfo2();

		fn("mem.heap_in_use", (uint64_t)(mi.uordblks + mi.hblkhd), arg);
		fn("mem.heap_total", (uint64_t)(mi.arena + mi.hblkhd), arg);
	}
#endif
}

/* sv_engine_save - write the snapshot to CacheFile now */
int sv_engine_save(sv_engine *e)
{
	return save_now(e);
}

/* forget_account - SecretId, Region or Endpoint changed: no old answer is served */
static void forget_account(sv_engine *e)
{
	struct names nm = {0};
	size_t dropped = 0;

	sv_cache_walk(e->cache, collect, &nm);
	for (size_t i = 0; i < nm.n; i++) {
		if (sv_cache_del(e->cache, nm.v[i]) == 0)
			dropped++;
		free(nm.v[i]);
	}
	free(nm.v);
	sv_refresher_forget_list(e->ref);
	sv_refresher_want_list(e->ref);
	__atomic_fetch_add(&e->dirty, 1, __ATOMIC_RELAXED);
	sv_log(SV_LOG_NOTICE,
	       "reconfigure: another account (SecretId, Region or Endpoint changed): %zu cached "
	       "answers and the identity list dropped%s",
	       dropped, nm.failed ? " (out of memory: some entries kept)" : "");
}

/* sv_engine_reconfigure - TTLs, rate, endpoint/credentials (new clients), CacheFile */
int sv_engine_reconfigure(sv_engine *e, const sv_config *cfg)
{
	char *file = NULL, account[ACCOUNT_LEN + 1];
	int other;

	if (!cfg)
		return -1;
	if (cfg->cache_file && (file = strdup(cfg->cache_file)) == NULL)
		return -1;
	account_of(cfg, account);
	apply_config(e, cfg);
	sv_ratelimit_set_rate(e->rl, cfg->api_rate > 0 ? cfg->api_rate : DEF_RATE);
	if (sv_refresher_reconfigure(e->ref, cfg, &e->ttl) < 0)
		sv_log(SV_LOG_WARNING, "reconfigure: some refresher threads have not switched yet");
	pthread_mutex_lock(&e->save_lock);
	free(e->cache_file);
	e->cache_file = file;
	other = strcmp(account, e->account) != 0;
	memcpy(e->account, account, sizeof(account));
	pthread_mutex_unlock(&e->save_lock);
	if (other) /* every worker uses the new client now: drop the old answers */
		forget_account(e);
	if (cfg->max_entries && e->cfg->max_entries != cfg->max_entries)
		sv_log(SV_LOG_NOTICE, "MaxEntries changes take effect at the next start");
	if (!sv_redis_settings_equal(e->cfg, cfg))
		sv_log(SV_LOG_NOTICE, "Redis, RedisPrefix, RedisTimeout, RedisDownApiRate and "
		                      "ApiRateKey changes take effect at the next start");
	e->cfg = cfg;
	e->warm_up = cfg->warm_up;
	return 0;
}

/* sv_engine_free - stop workers, save the snapshot, release everything */
void sv_engine_free(sv_engine *e)
{
	if (!e)
		return;
	/* wake the waiters and free nothing before the last one has left */
	sv_engine_wake_waiters(e);
	pthread_mutex_lock(&e->wait_lock);
	while (e->waiters > 0)
		pthread_cond_wait(&e->wait_cond, &e->wait_lock);
	pthread_mutex_unlock(&e->wait_lock);
	if (e->hk_started) {
		pthread_mutex_lock(&e->hk_lock);
		e->hk_stop = 1;
		pthread_cond_broadcast(&e->hk_cond);
		pthread_mutex_unlock(&e->hk_lock);
		pthread_join(e->hk, NULL);
	}
	if (e->ref)
		sv_refresher_stop(e->ref);
	if (e->started && e->cache_file)
		save_now(e);
	sv_refresher_free(e->ref);
	sv_ratelimit_free(e->rl);
	sv_shared_free(e->shared);
	sv_cache_close(e->cache);
	pthread_cond_destroy(&e->wait_cond);
	pthread_mutex_destroy(&e->wait_lock);
	pthread_cond_destroy(&e->hk_cond);
	pthread_mutex_destroy(&e->hk_lock);
	pthread_mutex_destroy(&e->save_lock);
	free(e->cache_file);
	sv_config_free(e->own_cfg);
	free(e);
}
