/*
 * redis_share.c - what an engine with Redis set holds: the connection and
 *	the account's shared budget, plugged into its local limiter (see
 *	redis.h).  Without hiredis it only says why it cannot.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#include "cache.h"
#include "compat.h"
#include "credentials.h"
#include "log.h"
#include "ratelimit.h"
#include "redis.h"
#include "stats.h"

#ifdef HAVE_HIREDIS
#define SETTLE_MS       7000 /* a lost budget's settling: reconnect back-off + window + slack */
#define LEASE_POLL_MS   50   /* a lease waiter looks at Redis this often */
#define LEASE_WAIT_MAX  40   /* lease times a waiter waits at most for a renewed lease */
#define LIST_SHARED_MS  (30 * 1000) /* another host's identity list this young is used */
#define LIST_KEEP_MS    (10 * 60 * 1000)
#define CATCH_UP_MAX    1000 /* records re-read from Redis after a reconnect */
#define BAD_LOG_EVERY_S 60
#define OWN_RING        64

struct sv_shared {
	sv_redis *r;
	sv_redis_rl *rl;
	char *prefix;
	int64_t max_stale; /* ms a record stays in Redis after it expired */
	int64_t lease_ms;  /* (ApiTimeout + 1 s) / 2: a refresh lease's time, renewed every third */
	char host[256];    /* who asked SES, stored with each answer */
	char owner[300];   /* this process in lease values: host:pid:random */
	uint64_t *st_used, *st_put;
	uint64_t *st_received, *st_applied, *st_bad, *st_catch_up;
	uint64_t *st_lease_taken, *st_lease_waited, *st_lease_answered, *st_lease_expired;
	uint64_t *st_list_shared, *st_list_stored;

	/* pub/sub: a thread on its own connection (a subscribed one runs nothing else) */
	sv_redis *sub;
	sv_cache *cache;
	void (*done)(const char *domain, void *arg);
	void *done_arg;
	pthread_t tid;
	int started, stop, pipe[2];
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a message came in (lease waiters look again) */
	time_t bad_logged;
	/* this process's own latest stores: their messages need no read back */
	char mine[OWN_RING][SV_DOMAIN_MAX + 1];
	unsigned mine_next;
	uint64_t *st_own;

	/* the leases this process holds, renewed by the keeper thread */
	pthread_mutex_t hlock;
	pthread_cond_t hcond; /* stop */
	struct held {
		char name[SV_DOMAIN_MAX + 1];
		int64_t ms;
	} * held;
	size_t nheld, capheld;
	pthread_t ktid;
	int kstarted;
	uint64_t *st_lease_renewed, *st_lease_lost;
};

static int64_t sh_try(void *arg, uint64_t *ticket)
{
	return sv_redis_rl_try(((sv_shared *)arg)->rl, ticket);
}

/* sh_done - an answer that cannot reach Redis: its lease ends it */
static void sh_done(void *arg, uint64_t ticket)
{
	sv_redis_rl_done(((sv_shared *)arg)->rl, ticket);
}

static void sh_penalize(void *arg)
{
	sv_redis_rl_penalize(((sv_shared *)arg)->rl);
}

static void sh_set_rate(void *arg, int rate)
{
	sv_redis_rl_set_rate(((sv_shared *)arg)->rl, rate);
}

/* sv_shared_new - connect (lazily) and plug the shared budget into rl */
sv_shared *sv_shared_new(const sv_config *cfg, sv_ratelimit *rl, char *err, size_t errlen)
{
	sv_shared *sh;
	sv_redis_url url;
	sv_credentials cr;
	char key[200], why[300];
	sv_rl_shared ops;

	if (cfg->api_rate_key) {
		snprintf(key, sizeof(key), "%s", cfg->api_rate_key);
	} else {
		memset(&cr, 0, sizeof(cr));
		if (sv_credentials_resolve(cfg, &cr, why, sizeof(why)) < 0 ||
		    sv_redis_rl_key(cfg->region, cr.secret_id, key, sizeof(key)) < 0) {
			snprintf(err, errlen, "Redis: cannot name the shared budget: %s",
			         cr.secret_id ? "region too long" : why);
			sv_credentials_clear(&cr);
			return NULL;
		}
		sv_credentials_clear(&cr);
	}
	if (sv_redis_url_parse(cfg->redis, &url, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Redis: %s", why);
		return NULL;
	}
	if ((sh = calloc(1, sizeof(*sh))) == NULL ||
	    (sh->r = sv_redis_new(&url, cfg->redis_timeout)) == NULL ||
	    (sh->rl = sv_redis_rl_new(sh->r, cfg->redis_prefix ? cfg->redis_prefix : "sesverify:",
	                              key, cfg->api_rate, cfg->api_timeout + 1000)) == NULL) {
		sv_redis_url_clear(&url);
		sv_shared_free(sh);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((sh->prefix = strdup(cfg->redis_prefix ? cfg->redis_prefix : "sesverify:")) == NULL) {
		sv_redis_url_clear(&url);
		sv_shared_free(sh);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sh->max_stale = cfg->max_stale;
	/* a holder renews its leases every lease_ms / 3 for as long as it needs
	 * them, so the lease of one that died ends at most lease_ms after its
	 * last renewal: well within ApiTimeout + 1 s of its death */
	sh->lease_ms = (cfg->api_timeout + 1000) / 2;
	if (sh->lease_ms < 600)
		sh->lease_ms = 600;
	if (gethostname(sh->host, sizeof(sh->host) - 1) < 0)
		snprintf(sh->host, sizeof(sh->host), "?");
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(sh->owner, sizeof(sh->owner), "%s:%ld:%08lx", sh->host, (long)getpid(),
		         (unsigned long)(ts.tv_nsec ^ (ts.tv_sec << 20)) & 0xffffffffUL);
	}
	sh->pipe[0] = sh->pipe[1] = -1;
	pthread_mutex_init(&sh->lock, NULL);
	sv_cond_init_mono(&sh->cond);
	pthread_mutex_init(&sh->hlock, NULL);
	sv_cond_init_mono(&sh->hcond);
	if ((sh->sub = sv_redis_new(&url, cfg->redis_timeout)) == NULL) {
		sv_redis_url_clear(&url);
		sv_shared_free(sh);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sv_redis_set_name(sh->sub, "redis pub/sub");
	sh->st_used = sv_stat_counter("redis.answers.used");
	sh->st_put = sv_stat_counter("redis.answers.stored");
	sh->st_received = sv_stat_counter("redis.pubsub.received");
	sh->st_applied = sv_stat_counter("redis.pubsub.applied");
	sh->st_bad = sv_stat_counter("redis.pubsub.bad");
	sh->st_own = sv_stat_counter("redis.pubsub.own");
	sh->st_catch_up = sv_stat_counter("redis.pubsub.caught_up");
	sh->st_lease_taken = sv_stat_counter("redis.lease.taken");
	sh->st_lease_renewed = sv_stat_counter("redis.lease.renewed");
	sh->st_lease_lost = sv_stat_counter("redis.lease.lost");
	sh->st_lease_waited = sv_stat_counter("redis.lease.waited");
	sh->st_lease_answered = sv_stat_counter("redis.lease.answered");
	sh->st_lease_expired = sv_stat_counter("redis.lease.expired");
	sh->st_list_shared = sv_stat_counter("redis.list.used");
	sh->st_list_stored = sv_stat_counter("redis.list.stored");
	/* a budget Redis lost (restart, flush) is shared at RedisDownApiRate
	 * until every host must have reconnected: the longest reconnect
	 * back-off (5 s), then a second for their local grants to stop counting */
	sv_redis_rl_set_settle(sh->rl, cfg->redis_down_api_rate > 0 ? cfg->redis_down_api_rate : 5,
	                       SETTLE_MS);
	ops = (sv_rl_shared){sh_try, sh_done, sh_penalize, sh_set_rate, sh};
	sv_ratelimit_set_shared(rl, &ops,
	                        cfg->redis_down_api_rate > 0 ? cfg->redis_down_api_rate : 5);
	sv_redis_url_clear(&url);
	sv_log(SV_LOG_INFO, "redis: the API budget (%d/s) is shared as %srl:%s", cfg->api_rate,
	       cfg->redis_prefix ? cfg->redis_prefix : "sesverify:", key);
	return sh;
}

/* sv_shared_free - close (the limiter must no longer use it) */
void sv_shared_free(sv_shared *sh)
{
	if (sh == NULL)
		return;
	sv_shared_stop(sh);
	sv_redis_rl_free(sh->rl);
	sv_redis_free(sh->r);
	if (sh->sub) {
		sv_redis_free(sh->sub);
		pthread_mutex_destroy(&sh->lock);
		pthread_cond_destroy(&sh->cond);
		pthread_mutex_destroy(&sh->hlock);
		pthread_cond_destroy(&sh->hcond);
	}
	free(sh->held);
	free(sh->prefix);
	free(sh);
}

/* fresh_answer - Redis holds a fresh answer for domain newer than local (1, out filled) */
static int fresh_answer(sv_shared *sh, const char *domain, const sv_cache_rec *local,
                        sv_cache_rec *out)
{
	if (sv_redis_answer_get(sh->r, sh->prefix, domain, out) != 1)
		return 0;
	if (sv_cache_rec_answered(out) && out->api_checked_at > local->api_checked_at &&
	    out->expires_at > sv_cache_now_ms())
		return 1;
	sv_cache_rec_clear(out);
	return 0;
}

/* sv_shared_answer_get - refresher hook: another host's newer, fresh answer (1) */
int sv_shared_answer_get(void *arg, const char *domain, const sv_cache_rec *local,
                         sv_cache_rec *out)
{
	sv_shared *sh = arg;

	if (!fresh_answer(sh, domain, local, out))
		return 0;
	sv_stat_inc(sh->st_used, 1);
	sv_log(SV_LOG_DEBUG, "%s: answered by another host through Redis (%s)", domain,
	       sv_state_name(out->state));
	return 1;
}

/* mine_add - domain's next message is this process's own store */
static void mine_add(sv_shared *sh, const char *domain)
{
	pthread_mutex_lock(&sh->lock);
	snprintf(sh->mine[sh->mine_next++ % OWN_RING], sizeof(sh->mine[0]), "%s", domain);
	pthread_mutex_unlock(&sh->lock);
}

/* own - is domain's message this process's own store?  (consumed: once per store) */
static int own(sv_shared *sh, const char *domain)
{
	int found = 0;

	pthread_mutex_lock(&sh->lock);
	for (unsigned i = 0; i < OWN_RING && !found; i++)
		if (strcmp(sh->mine[i], domain) == 0) {
			sh->mine[i][0] = 0;
			found = 1;
		}
	pthread_mutex_unlock(&sh->lock);
	return found;
}

/* sv_shared_answer_put - refresher hook: a fresh API answer for the other hosts */
void sv_shared_answer_put(void *arg, const char *domain, const sv_cache_rec *rec)
{
	sv_shared *sh = arg;
	int64_t keep = rec->expires_at - sv_cache_now_ms() + sh->max_stale;

	/* registered first: the message may arrive before the put returns */
	if (sh->sub)
		mine_add(sh, domain);
	if (sv_redis_answer_put(sh->r, sh->prefix, domain, rec, keep > 1000 ? keep : 1000,
	                        sh->host) == 1)
		sv_stat_inc(sh->st_put, 1);
	else if (sh->sub)
		own(sh, domain); /* nothing published */
}

/* ------------------------------------------------------------------ */
/* pub/sub: another host's answer into this host's memory             */

/*
 * newer - is rec (from Redis) newer than local?  An error or unknown
 *	local record yields to any answer; an answer only to one asked of
 *	SES later, or as late and fetched later.
 */
static int newer(const sv_cache_rec *rec, const sv_cache_rec *local)
{
	if (!sv_cache_rec_answered(local))
		return 1;
	if (rec->api_checked_at != local->api_checked_at)
		return rec->api_checked_at > local->api_checked_at;
	return rec->fetched_at > local->fetched_at;
}

/* bad_message - count it; one log line a minute at most */
static void bad_message(sv_shared *sh, const char *what)
{
	time_t now = time(NULL);

	sv_stat_inc(sh->st_bad, 1);
	if (now - sh->bad_logged >= BAD_LOG_EVERY_S) {
		sh->bad_logged = now;
		sv_log(SV_LOG_WARNING,
		       "redis pub/sub: ignored a bad message: %s (counter redis.pubsub.bad; "
		       "at most one such line a minute)",
		       what);
	}
}

/*
 * apply - read domain's record from Redis and put it into the memory
 *	cache when it is a fresh answer newer than the local one; wake the
 *	mail waiting on it.  1 applied, 0 not newer or absent, -1 bad.
 */
static int apply(sv_shared *sh, const char *domain)
{
	sv_cache_rec rec, local;
	char why[800];
	int rc = sv_redis_answer_read(sh->r, sh->prefix, domain, &rec, why, sizeof(why));

	if (rc < 0) {
		if (why[0])
			bad_message(sh, why);
		return why[0] ? -1 : 0;
	}
	if (rc == 0)
		return 0; /* expired meanwhile */
	rc = 0;
	if (sv_cache_rec_answered(&rec) && rec.expires_at > sv_cache_now_ms()) {
		if (sv_cache_get(sh->cache, domain, &local) < 0) {
			rc = 1;
		} else {
			rc = newer(&rec, &local);
			rec.flags |= local.flags & ~(unsigned)SV_REC_PERSIST_MASK;
			sv_cache_rec_clear(&local);
		}
		if (rc && sv_cache_put(sh->cache, domain, &rec) == 0) {
			sv_stat_inc(sh->st_applied, 1);
			sv_log(SV_LOG_DEBUG, "%s: %s, answered by another host (Redis pub/sub)",
			       domain, sv_state_name(rec.state));
			if (sh->done)
				sh->done(domain, sh->done_arg); /* wakes the mail waiting on it */
		}
	}
	sv_cache_rec_clear(&rec);
	return rc;
}

/* message - one pub/sub reply: ["message", CHANNEL, DOMAIN] */
static void message(sv_shared *sh, const redisReply *rep)
{
	char norm[SV_DOMAIN_MAX + 1];
	const char *why = NULL;
	const redisReply *d;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rep->element[0]->str, "message") != 0) {
		bad_message(sh, "not a pub/sub message");
		return;
	}
	sv_stat_inc(sh->st_received, 1);
	d = rep->element[2];
	if (d->type != REDIS_REPLY_STRING || d->len == 0 || d->len > SV_DOMAIN_MAX ||
	    strlen(d->str) != d->len || sv_domain_normalize(d->str, norm, &why) < 0 ||
	    strcmp(norm, d->str) != 0) {
		bad_message(sh, "not a sender domain in normal form");
		return;
	}
	if (own(sh, norm)) {
		sv_stat_inc(sh->st_own, 1); /* this process's worker stores it itself */
		return;
	}
	apply(sh, norm);
}

struct names {
	char **v;
	size_t n;
	int64_t now;
};

/* catch_one - sv_cache_walk: a record that is not a fresh answer */
static void catch_one(const char *domain, const sv_cache_rec *rec, void *arg)
{
	struct names *nm = arg;

	if (nm->n < CATCH_UP_MAX && (!sv_cache_rec_answered(rec) || rec->expires_at <= nm->now))
		if ((nm->v[nm->n] = strdup(domain)) != NULL)
			nm->n++;
}

/*
 * catch_up - after a reconnect: messages published meanwhile are
 *	lost, so re-read the records this host lacks a fresh answer for (at
 *	most CATCH_UP_MAX; domains only queued, with no record yet, read
 *	Redis when their job runs)
 */
static void catch_up(sv_shared *sh)
{
	struct names nm = {NULL, 0, sv_cache_now_ms()};
	size_t applied = 0;

	if ((nm.v = calloc(CATCH_UP_MAX, sizeof(*nm.v))) == NULL)
		return;
	sv_cache_walk(sh->cache, catch_one, &nm);
	for (size_t i = 0; i < nm.n; i++) {
		if (!sv_atomic_load(&sh->stop) && apply(sh, nm.v[i]) == 1)
			applied++;
		free(nm.v[i]);
	}
	free(nm.v);
	sv_stat_inc(sh->st_catch_up, applied);
	if (nm.n)
		sv_log(SV_LOG_INFO,
		       "redis pub/sub: caught up: %zu of %zu expired or unknown records newer in "
		       "Redis",
		       applied, nm.n);
}

/* sub_main - SUBSCRIBE, then apply each message until stopped */
static void *sub_main(void *arg)
{
	sv_shared *sh = arg;
	char chan[200];
	int subscribed = 0;

	snprintf(chan, sizeof(chan), "%sanswers", sh->prefix);
	while (!sv_atomic_load(&sh->stop)) {
		redisReply *rep;
		int rc;
		if (subscribed != 1) {
			if (sv_redis_subscribe(sh->sub, chan) < 0) {
				struct pollfd pf = {.fd = sh->pipe[0], .events = POLLIN};
				int64_t ms = sv_redis_retry_in(sh->sub);
				subscribed = -1; /* answers published meanwhile are missed */
				poll(&pf, 1, (int)(ms > 0 ? ms : 100));
				continue;
			}
			if (subscribed < 0)
				catch_up(sh); /* a reconnect: messages were lost meanwhile */
			subscribed = 1;
		}
		rc = sv_redis_next(sh->sub, sh->pipe[0], 1000, &rep);
		if (rc < 0) {
			subscribed = -1;
			continue;
		}
		if (rc == 0)
			continue;
		message(sh, rep);
		freeReplyObject(rep);
		pthread_mutex_lock(&sh->lock);
		pthread_cond_broadcast(&sh->cond);
		pthread_mutex_unlock(&sh->lock);
	}
	return NULL;
}

/* held_add - this process holds name's lease (ms long): the keeper renews it */
static void held_add(sv_shared *sh, const char *name, int64_t ms)
{
	pthread_mutex_lock(&sh->hlock);
	if (sh->nheld == sh->capheld) {
		size_t cap = sh->capheld ? 2 * sh->capheld : 32;
		struct held *h = realloc(sh->held, cap * sizeof(*h));
		if (h) {
			sh->held = h;
			sh->capheld = cap;
		}
	}
	if (sh->nheld < sh->capheld) { /* else: not renewed, it lives its lease time */
		snprintf(sh->held[sh->nheld].name, sizeof(sh->held[0].name), "%s", name);
		sh->held[sh->nheld++].ms = ms;
	}
	pthread_mutex_unlock(&sh->hlock);
}

/* held_del - name's lease is let go */
static void held_del(sv_shared *sh, const char *name)
{
	pthread_mutex_lock(&sh->hlock);
	for (size_t i = 0; i < sh->nheld; i++)
		if (strcmp(sh->held[i].name, name) == 0) {
			sh->held[i] = sh->held[--sh->nheld];
			break;
		}
	pthread_mutex_unlock(&sh->hlock);
}

/*
 * keeper_main - renew the held leases every lease time / 3: a refresh
 *	waiting for the shared budget (a backlog at ApiRate on every host)
 *	keeps its lease however long the wait
 */
static void *keeper_main(void *arg)
{
	sv_shared *sh = arg;
	int64_t every = sh->lease_ms / 3 < 100 ? 100 : sh->lease_ms / 3;
	struct held *copy = NULL;
	size_t n, cap = 0;

	pthread_mutex_lock(&sh->hlock);
	while (!sv_atomic_load(&sh->stop)) {
		struct timespec ts = sv_mono_deadline(every);
		pthread_cond_timedwait(&sh->hcond, &sh->hlock, &ts);
		if (sv_atomic_load(&sh->stop))
			break;
		if (sh->nheld > cap) {
			struct held *c = realloc(copy, sh->nheld * sizeof(*c));
			if (c) {
				copy = c;
				cap = sh->nheld;
			}
		}
		n = sh->nheld < cap ? sh->nheld : cap;
		if (n)
			memcpy(copy, sh->held, n * sizeof(*copy));
		pthread_mutex_unlock(&sh->hlock);
		for (size_t i = 0; i < n; i++) {
			int rc = sv_redis_lease_renew(sh->r, sh->prefix, copy[i].name, sh->owner,
			                              copy[i].ms);
			if (rc == 1)
				sv_stat_inc(sh->st_lease_renewed, 1);
			else if (rc == 0)
				sv_stat_inc(sh->st_lease_lost,
				            1); /* let go meanwhile, or expired */
		}
		pthread_mutex_lock(&sh->hlock);
	}
	pthread_mutex_unlock(&sh->hlock);
	free(copy);
	return NULL;
}

/* sv_shared_start - the subscriber thread: answers into cache, done(domain) after each */
int sv_shared_start(sv_shared *sh, sv_cache *cache, void (*done)(const char *, void *), void *arg)
{
	if (sh == NULL || sh->started)
		return 0;
	sh->cache = cache;
	sh->done = done;
	sh->done_arg = arg;
	if (pipe(sh->pipe) < 0) {
		sh->pipe[0] = sh->pipe[1] = -1;
		return -1;
	}
	fcntl(sh->pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(sh->pipe[1], F_SETFD, FD_CLOEXEC);
	if (pthread_create(&sh->tid, NULL, sub_main, sh) != 0)
		return -1;
	sh->started = 1;
	if (pthread_create(&sh->ktid, NULL, keeper_main, sh) != 0)
		return -1;
	sh->kstarted = 1;
	return 0;
}

/* sv_shared_stop - end the subscriber thread and every lease wait */
void sv_shared_stop(sv_shared *sh)
{
	if (sh == NULL || !sh->sub)
		return;
	pthread_mutex_lock(&sh->lock);
	sv_atomic_store(&sh->stop, 1);
	pthread_cond_broadcast(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
	if (sh->kstarted) {
		pthread_mutex_lock(&sh->hlock);
		pthread_cond_broadcast(&sh->hcond);
		pthread_mutex_unlock(&sh->hlock);
		pthread_join(sh->ktid, NULL);
		sh->kstarted = 0;
	}
	if (sh->started) {
		if (write(sh->pipe[1], "x", 1) < 0) {
			/* the thread still sees stop within a second */
		}
		pthread_join(sh->tid, NULL);
		sh->started = 0;
	}
	if (sh->pipe[0] >= 0) {
		close(sh->pipe[0]);
		close(sh->pipe[1]);
		sh->pipe[0] = sh->pipe[1] = -1;
	}
}

/* ------------------------------------------------------------------ */
/* one refresh per domain for the fleet                               */

/* wait_a_little - until a pub/sub message, stop, or LEASE_POLL_MS */
static void wait_a_little(sv_shared *sh)
{
	struct timespec ts = sv_mono_deadline(LEASE_POLL_MS);

	pthread_mutex_lock(&sh->lock);
	if (!sv_atomic_load(&sh->stop))
		pthread_cond_timedwait(&sh->cond, &sh->lock, &ts);
	pthread_mutex_unlock(&sh->lock);
}

/*
 * sv_shared_lease - refresher hook before an API call for domain: 0 this
 *	host holds the lease (release it with sv_shared_unlease), 1 another
 *	host asked SES meanwhile (out filled with its answer), -1 no lease
 *	(Redis unreachable, stopping, or the holder's answer never came
 *	within the lease's time): ask as one host would.
 */
int sv_shared_lease(void *arg, const char *domain, const sv_cache_rec *local, sv_cache_rec *out)
{
	sv_shared *sh = arg;
	/* a live holder renews its lease while it waits for the budget: wait
	 * while the lease lives (bounded all the same) */
	int64_t until = sv_cache_now_ms() + LEASE_WAIT_MAX * sh->lease_ms;
	int waited = 0, t;

	memset(out, 0, sizeof(*out));
	for (;;) {
		t = sv_redis_lease_take(sh->r, sh->prefix, domain, sh->owner, sh->lease_ms);
		if (t < 0)
			return -1;
		if (t == 1) {
			/* the holder may have stored its answer and let go just now */
			if (fresh_answer(sh, domain, local, out)) {
				sv_redis_lease_release(sh->r, sh->prefix, domain, sh->owner);
				break;
			}
			sv_stat_inc(waited ? sh->st_lease_expired : sh->st_lease_taken, 1);
			held_add(sh, domain, sh->lease_ms);
			if (waited)
				sv_log(
				    SV_LOG_NOTICE,
				    "%s: the other host's refresh lease ended without an answer; "
				    "asking SES",
				    domain);
			return 0;
		}
		if (!waited++) {
			sv_stat_inc(sh->st_lease_waited, 1);
			sv_log(SV_LOG_DEBUG,
			       "%s: another host is asking SES; waiting for its answer", domain);
		}
		if (fresh_answer(sh, domain, local, out))
			break;
		if (sv_atomic_load(&sh->stop) || sv_cache_now_ms() > until)
			return -1;
		wait_a_little(sh);
	}
	sv_stat_inc(sh->st_lease_answered, 1);
	sv_stat_inc(sh->st_used, 1);
	sv_log(SV_LOG_DEBUG, "%s: answered by another host's refresh (%s)", domain,
	       sv_state_name(out->state));
	return 1;
}

/* sv_shared_unlease - let go of domain's lease (after its answer is stored) */
void sv_shared_unlease(void *arg, const char *domain)
{
	sv_shared *sh = arg;

	held_del(sh, domain);
	sv_redis_lease_release(sh->r, sh->prefix, domain, sh->owner);
}

/* ------------------------------------------------------------------ */
/* the identity list, fetched by one host for the fleet               */

#define LIST_LEASE "#list" /* not a domain name: no clash with a domain's lease */

/* wall_ms - the wall clock in ms */
static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * list_read - PREFIX "list": "sesverify-list 1 FETCHED_WALL_MS N\n" then
 *	N lines "E NAME" (SendingEnabled) or "- NAME".  1 and the items when
 *	fetched within LIST_SHARED_MS, 0 absent or older, -1 unusable.
 */
static int list_read(sv_shared *sh, sv_listed **items, size_t *n, int64_t *fetched_at)
{
	char key[300];
	const char *argv[2] = {"GET", key};
	redisReply *rep;
	long long at, count;
	const char *p, *nl;
	sv_listed *v = NULL;
	size_t i = 0;
	int consumed = 0, rc = -1;

	snprintf(key, sizeof(key), "%slist", sh->prefix);
	if ((rep = sv_redis_command(sh->r, 2, argv, NULL)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep);
		return 0;
	}
	if (rep->type != REDIS_REPLY_STRING ||
	    sscanf(rep->str, "sesverify-list 1 %lld %lld\n%n", &at, &count, &consumed) != 2 ||
	    consumed == 0 || count < 0 || (size_t)count > rep->len / 3)
		goto out;
	if (at < wall_ms() - LIST_SHARED_MS) {
		rc = 0;
		goto out;
	}
	if (count && (v = calloc((size_t)count, sizeof(*v))) == NULL)
		goto out;
	for (p = rep->str + consumed; i < (size_t)count; i++, p = nl + 1) {
		const char *why;
		if ((nl = memchr(p, '\n', rep->len - (size_t)(p - rep->str))) == NULL ||
		    nl - p < 3 || (p[0] != 'E' && p[0] != '-') || p[1] != ' ' ||
		    nl - p - 2 > SV_DOMAIN_MAX)
			goto out;
		char raw[SV_DOMAIN_MAX + 1];
		memcpy(raw, p + 2, (size_t)(nl - p - 2));
		raw[nl - p - 2] = 0;
		if (sv_domain_normalize(raw, v[i].name, &why) < 0)
			goto out;
		v[i].sending_enabled = p[0] == 'E';
	}
	*items = v;
	*n = (size_t)count;
	*fetched_at = sv_cache_now_ms() - (wall_ms() - at);
	v = NULL;
	rc = 1;
out:
	if (rc < 0)
		sv_log(SV_LOG_ERR, "redis: the shared identity list %s is unusable; ignored", key);
	free(v);
	freeReplyObject(rep);
	return rc;
}

/*
 * sv_shared_list - refresher hook before ListEmailIdentities: 1 another
 *	host's list (fetched within LIST_SHARED_MS; *fetched_at on this
 *	host's clock), waiting for it while that host holds the list lease;
 *	0 fetch it yourself (lease taken, or no Redis), then call
 *	sv_shared_list_put.
 */
int sv_shared_list(void *arg, sv_listed **items, size_t *n, int64_t *fetched_at)
{
	sv_shared *sh = arg;
	int64_t until = sv_cache_now_ms() + LEASE_WAIT_MAX * sh->lease_ms;
	int t;

	for (;;) {
		if (list_read(sh, items, n, fetched_at) == 1)
			break;
		t = sv_redis_lease_take(sh->r, sh->prefix, LIST_LEASE, sh->owner, 3 * sh->lease_ms);
		if (t < 0)
			return 0;
		if (t == 1) {
			if (list_read(sh, items, n, fetched_at) == 1) {
				sv_redis_lease_release(sh->r, sh->prefix, LIST_LEASE, sh->owner);
				break;
			}
			held_add(sh, LIST_LEASE, 3 * sh->lease_ms);
			return 0;
		}
		if (sv_atomic_load(&sh->stop) || sv_cache_now_ms() > until)
			return 0;
		wait_a_little(sh);
	}
	sv_stat_inc(sh->st_list_shared, 1);
	sv_log(SV_LOG_INFO, "identity list: %zu sender domains, fetched by another host (Redis)",
	       *n);
	return 1;
}

/* sv_shared_list_put - the list this host fetched (NULL: failed) for the others; lets go */
void sv_shared_list_put(void *arg, const sv_listed *items, size_t n)
{
	sv_shared *sh = arg;
	char key[300], px[24], *buf = NULL;
	const char *argv[5] = {"SET", key, NULL, "PX", px};
	size_t argvlen[5], len = 0;
	FILE *f;

	if (items && (f = open_memstream(&buf, &len)) != NULL) {
		fprintf(f, "sesverify-list 1 %lld %zu\n", (long long)wall_ms(), n);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%c %s\n", items[i].sending_enabled ? 'E' : '-', items[i].name);
		if (fclose(f) == 0) {
			redisReply *rep;
			snprintf(key, sizeof(key), "%slist", sh->prefix);
			snprintf(px, sizeof(px), "%d", LIST_KEEP_MS);
			argv[2] = buf;
			for (int i = 0; i < 5; i++)
				argvlen[i] = i == 2 ? len : strlen(argv[i]);
			if ((rep = sv_redis_command(sh->r, 5, argv, argvlen)) != NULL) {
				if (rep->type == REDIS_REPLY_STATUS)
					sv_stat_inc(sh->st_list_stored, 1);
				freeReplyObject(rep);
			}
		}
		free(buf);
	}
	held_del(sh, LIST_LEASE);
	sv_redis_lease_release(sh->r, sh->prefix, LIST_LEASE, sh->owner);
}

/* sv_shared_up - 1 when Redis answered last time */
int sv_shared_up(sv_shared *sh)
{
	return sh && sv_redis_up(sh->r);
}
#else
struct sv_shared {
	int unused;
};

/* sv_shared_new - a build without hiredis cannot share */
sv_shared *sv_shared_new(const sv_config *cfg, sv_ratelimit *rl, char *err, size_t errlen)
{
	(void)cfg;
	(void)rl;
	snprintf(err, errlen, "Redis: this build has no Redis support (libhiredis-dev)");
	return NULL;
}

void sv_shared_free(sv_shared *sh)
{
	(void)sh;
}

int sv_shared_start(sv_shared *sh, sv_cache *cache, void (*done)(const char *, void *), void *arg)
{
	(void)sh;
	(void)cache;
	(void)done;
	(void)arg;
	return 0;
}

void sv_shared_stop(sv_shared *sh)
{
	(void)sh;
}

int sv_shared_up(sv_shared *sh)
{
	(void)sh;
	return 0;
}
#endif
