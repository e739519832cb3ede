/*
 * refresher.c - worker threads, priority queues, single-flight, identity
 *	list and the refresh rules (see refresher.h).
 *	Owns every network call the engine makes (API via sv_client, DNS via
 *	sv_resolver) and the order in which they happen.  It does not store
 *	records (cache*.c), does not decide TTL arithmetic (cache.c) and
 *	does not pace calls itself (ratelimit.c).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat.h"
#include "dnsnorm.h"
#include "log.h"
#include "refresher.h"
#include "sesapi.h"
#include "stats.h"

#define NBUCKET       65536
#define LIST_FRESH_MS (60 * 1000) /* a never-seen domain trusts a list this young */
#define LIST_RETRY_MS (60 * 1000) /* after a failed list fetch, per-domain calls */
#define LOG_EVERY_MS  (60 * 1000) /* configuration errors: at most one line a minute */
#define RATE_ATTEMPTS 3

struct job {
	struct job *qnext, *qprev, *hnext;
	int prio;
	unsigned flags;
	int inflight, again;
	int64_t queued_at; /* arrival: an identity list fetched after it is fresh enough */
	uint32_t hash;
	char domain[];
};

/*
 * grant_pace - sv_pacer hooks that take one limiter grant per request
 *	sent and report it done when its answer is in.  A short stack: a
 *	list page and libcurl's re-send of it can be in flight together.
 */
struct grant_pace {
	sv_ratelimit *rl;
	uint64_t tickets[4];
	int n;
	size_t grants; /* taken in all */
};

struct worker {
	sv_refresher *r;
	pthread_t tid;
	int started;
	unsigned gen;
	sv_client *client;
	struct grant_pace rp; /* grants libcurl's re-sends */
	sv_pacer resend;
	sv_resolver *res;
	char client_err[200];
	uint64_t rnd;
	struct job *job; /* the job taken from the queue, in flight */
	int nested;      /* running a waiting mail's job while job waits for a grant */
};

struct sv_refresher {
	sv_refresher_env env;
	pthread_mutex_t lock;
	pthread_cond_t cond, ack;
	struct job *head[SV_PRIO_N], *tail[SV_PRIO_N];
	struct job **tab;
	size_t njobs;
	int stop, list_wanted, warm_wanted;
	unsigned gen;
	struct worker *w;
	int nw;

	pthread_mutex_t list_lock;
	pthread_cond_t list_cond;
	sv_listed *items; /* sorted by name */
	size_t nitems;
	int list_ok, list_fetching;
	int64_t list_fetched_at, list_attempt_at;
	unsigned list_failures; /* failed fetches in a row */
	int64_t list_retry_ms;  /* after a failed fetch: LIST_RETRY_MS with backoff */

	int64_t last_config_log;
	struct {
		uint64_t *rate_limited, *saved_precheck, *saved_list;
		uint64_t *queued, *coalesced, *dropped, *done, *extended, *config_errors;
		uint64_t *list_errors;
	} st;
};

/* xrand - per-worker xorshift64 (jitter only, no security use) */
static unsigned xrand(struct worker *w)
{
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	return (unsigned)(w->rnd >> 32);
}

/* fnv - FNV-1a 32 */
static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* ------------------------------------------------------------------ */
/* queues                                                             */

/* q_push - append job to its priority's FIFO (lock held) */
static void q_push(sv_refresher *r, struct job *j)
{
	j->qnext = NULL;
	j->qprev = r->tail[j->prio];
	if (r->tail[j->prio])
		r->tail[j->prio]->qnext = j;
	else
		r->head[j->prio] = j;
	r->tail[j->prio] = j;
}

/* q_remove - take a queued job out of its FIFO (lock held) */
static void q_remove(sv_refresher *r, struct job *j)
{
	if (j->qprev)
		j->qprev->qnext = j->qnext;
	else
		r->head[j->prio] = j->qnext;
	if (j->qnext)
		j->qnext->qprev = j->qprev;
	else
		r->tail[j->prio] = j->qprev;
	j->qnext = j->qprev = NULL;
}

/* t_find - the job of domain (lock held) */
static struct job **t_find(sv_refresher *r, const char *domain, uint32_t h)
{
	struct job **pp = &r->tab[h % NBUCKET];

	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->hash == h && strcmp((*pp)->domain, domain) == 0)
			break;
	return pp;
}

/* enqueue - add or coalesce; 1 new, 0 coalesced, -1 full or stopped */
static int enqueue(sv_refresher *r, const char *domain, int prio, unsigned flags)
{
	uint32_t h = fnv(domain);
	struct job **pp, *j;
	size_t dl = strlen(domain);
	int rc = 0;

	if (prio < 0 || prio >= SV_PRIO_N)
		prio = SV_PRIO_EXPIRED;
	pthread_mutex_lock(&r->lock);
	if (r->stop) {
		rc = -1;
		goto out;
	}
	pp = t_find(r, domain, h);
	if ((j = *pp) != NULL) {
		sv_stat_inc(r->st.coalesced, 1);
		j->flags |= flags;
		if (j->inflight) {
			/* the run in flight answers a waiter; a forced or lower-priority
			 * request (a change since it started) needs one more run */
			if ((flags & SV_JOB_FORCE) || prio != SV_PRIO_UNKNOWN)
				j->again = 1;
			if (prio < j->prio)
				j->prio = prio;
		} else if (prio < j->prio) {
			q_remove(r, j);
			j->prio = prio;
			q_push(r, j);
		}
		goto out;
	}
	if (r->njobs >= r->env.max_jobs || (j = calloc(1, sizeof(*j) + dl + 1)) == NULL) {
		sv_stat_inc(r->st.dropped, 1);
		rc = -1;
		goto out;
	}
	memcpy(j->domain, domain, dl + 1);
	j->hash = h;
	j->queued_at = sv_cache_now_ms();
	j->prio = prio;
	j->flags = flags;
	*pp = j;
	r->njobs++;
	q_push(r, j);
	sv_stat_inc(r->st.queued, 1);
	pthread_cond_signal(&r->cond);
	rc = 1;
out:
	pthread_mutex_unlock(&r->lock);
	if (rc >= 0 && prio == SV_PRIO_UNKNOWN && r->env.rl)
		sv_ratelimit_kick(r->env.rl); /* workers waiting for a grant give way */
	return rc;
}

/*
 * sv_refresher_enqueue - ask for a refresh of domain
 *	The record's refreshing bit is set before the job exists and cleared
 *	only by the worker that finishes the job, so a set bit always has a
 *	job behind it.  Returns 0, or -1 when the queue is full or stopped.
 */
int sv_refresher_enqueue(sv_refresher *r, const char *domain, int prio, unsigned flags)
{
	int old = sv_cache_mark(r->env.cache, domain, SV_REC_REFRESHING, 0, 1);

	if (old < 0)
		return -1;
	if ((old & SV_REC_REFRESHING) && !(flags & SV_JOB_FORCE) && prio != SV_PRIO_UNKNOWN)
		return 0;
	if (enqueue(r, domain, prio, flags) < 0) {
		if (!(old & SV_REC_REFRESHING))
			sv_cache_mark(r->env.cache, domain, 0, SV_REC_REFRESHING, 0);
		return -1;
	}
	return 0;
}

/* finish_job - store done; rerun when asked meanwhile, else free */
static void finish_job(sv_refresher *r, struct job *j)
{
	char domain[SV_DOMAIN_MAX + 1];
	int again;

	snprintf(domain, sizeof(domain), "%s", j->domain);
	pthread_mutex_lock(&r->lock);
	j->inflight = 0;
	if ((again = j->again && !r->stop) != 0) {
		j->again = 0;
		j->queued_at = sv_cache_now_ms();
		q_push(r, j);
		pthread_cond_signal(&r->cond);
	} else {
		struct job **pp = t_find(r, j->domain, j->hash);
		*pp = j->hnext;
		r->njobs--;
		free(j);
	}
	pthread_mutex_unlock(&r->lock);
	if (!again)
		sv_cache_mark(r->env.cache, domain, 0, SV_REC_REFRESHING, 0);
	sv_stat_inc(r->st.done, 1);
	if (r->env.done)
		r->env.done(domain, r->env.done_arg);
}

/* sv_refresher_pending - jobs queued or in flight */
size_t sv_refresher_pending(sv_refresher *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->njobs;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* sv_refresher_want_list - have a worker refresh the identity list soon */
void sv_refresher_want_list(sv_refresher *r)
{
	pthread_mutex_lock(&r->lock);
	r->list_wanted = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* sv_refresher_forget_list - the identity list belongs to another account now */
void sv_refresher_forget_list(sv_refresher *r)
{
	pthread_mutex_lock(&r->list_lock);
	free(r->items);
	r->items = NULL;
	r->nitems = 0;
	r->list_ok = 0;
	r->list_fetched_at = r->list_attempt_at = 0;
	pthread_mutex_unlock(&r->list_lock);
}

/* ------------------------------------------------------------------ */
/* helpers around the API                                             */

/* config_error - log a configuration/auth failure at most once a minute */
static void config_error(sv_refresher *r, const char *what, const sv_identity *id)
{
	int64_t now = sv_cache_now_ms();
	int say = 0;

	sv_stat_inc(r->st.config_errors, 1);
	pthread_mutex_lock(&r->lock);
	if (now - r->last_config_log >= LOG_EVERY_MS) {
		r->last_config_log = now;
		say = 1;
	}
	pthread_mutex_unlock(&r->lock);
	if (say)
		sv_log(SV_LOG_ERR,
		       "%s: %s%s%s (fix the configuration; further errors of this kind are "
		       "logged once a minute)",
		       what, id->error_code, id->error_message ? ": " : "",
		       id->error_message ? id->error_message : "");
}

/* no_client - describe why this worker cannot call the API */
static void no_client(struct worker *w, const char *domain, sv_identity *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->domain, sizeof(id->domain), "%s", domain);
	id->state = SV_STATE_ERROR;
	snprintf(id->error_code, sizeof(id->error_code), "Client.Unavailable");
	id->error_message = strdup(w->client_err[0] ? w->client_err : "API client unavailable");
	id->error_class = SV_ECLASS_CONFIG;
}

static void run_urgent(sv_refresher *r, struct worker *w);

/*
 * give_way - sv_ratelimit yield of a worker whose job no mail waits for:
 *	true when a job mail waits for is queued (no worker took it), or when
 *	mail started waiting for this worker's own job.
 */
static int give_way(void *arg)
{
	struct worker *w = arg;
	int y;

	pthread_mutex_lock(&w->r->lock);
	y = w->r->head[SV_PRIO_UNKNOWN] != NULL || w->job->prio == SV_PRIO_UNKNOWN;
	pthread_mutex_unlock(&w->r->lock);
	return y;
}

/*
 * grant - one limiter grant for an UpdateEmailIdentity
 *	Mail waiting for an answer comes first: a job mail waits for asks
 *	as urgent; any other job, while it waits, gives way by running the
 *	queued jobs mail waits for itself (its client is idle until the
 *	grant), so a backlog of refreshes in flight never delays them.
 */
static int grant(sv_refresher *r, struct worker *w, uint64_t *ticket)
{
	for (;;) {
		int urgent, rc;
		pthread_mutex_lock(&r->lock);
		urgent = w->nested || !w->job || w->job->prio == SV_PRIO_UNKNOWN;
		pthread_mutex_unlock(&r->lock);
		rc = sv_ratelimit_acquire_prio(r->env.rl, ticket, urgent, urgent ? NULL : give_way,
		                               w);
		if (rc != 1)
			return rc;
		run_urgent(r, w);
	}
}

/* call_update - one UpdateEmailIdentity, paced, retried on rate limits */
static void call_update(sv_refresher *r, struct worker *w, const char *domain, sv_identity *id)
{
	uint64_t ticket = 0;

	memset(id, 0, sizeof(*id));
	for (int attempt = 0; attempt < RATE_ATTEMPTS; attempt++) {
		sv_identity_clear(id);
		if (!w->client) {
			no_client(w, domain, id);
			return;
		}
		if (grant(r, w, &ticket) < 0) {
			snprintf(id->domain, sizeof(id->domain), "%s", domain);
			id->state = SV_STATE_ERROR;
			snprintf(id->error_code, sizeof(id->error_code), "Shutdown");
			id->error_class = SV_ECLASS_RETRYABLE;
			return;
		}
		sv_client_update_identity(w->client, domain, id);
		sv_ratelimit_done(r->env.rl, ticket);
		if (id->error_class != SV_ECLASS_RATE_LIMITED)
			return;
		sv_stat_inc(r->st.rate_limited, 1);
		sv_ratelimit_penalize(r->env.rl);
	}
}

/* cmp_listed - order identities by name */
static int cmp_listed(const void *a, const void *b)
{
	return strcmp(((const sv_listed *)a)->name, ((const sv_listed *)b)->name);
}

/* find_listed - bsearch in a sorted list */
static const sv_listed *find_listed(const sv_listed *items, size_t n, const char *domain)
{
	sv_listed key;

	snprintf(key.name, sizeof(key.name), "%s", domain);
	return n ? bsearch(&key, items, n, sizeof(*items), cmp_listed) : NULL;
}

struct recon {
	const sv_listed *items;
	size_t n;
	char **names;
	size_t count, cap;
};

/* recon_one - does this record contradict the fresh list? */
static void recon_one(const char *domain, const sv_cache_rec *rec, void *arg)
{
	struct recon *rc = arg;
	const sv_listed *l = find_listed(rc->items, rc->n, domain);
	int bad = 0;

	switch (rec->state) {
	case SV_STATE_VERIFIED:
		bad = !l || !l->sending_enabled;
		break;
	case SV_STATE_UNVERIFIED:
		bad = !l || l->sending_enabled;
		break;
	case SV_STATE_NOT_EXIST:
		bad = l != NULL;
		break;
	default:
		break;
	}
	if (!bad || rc->count >= 10000)
		return;
	if (rc->count == rc->cap) {
		size_t nc = rc->cap ? rc->cap * 2 : 16;
		char **nn = realloc(rc->names, nc * sizeof(*nn));
		if (!nn)
			return;
		rc->names = nn;
		rc->cap = nc;
	}
	if ((rc->names[rc->count] = strdup(domain)) != NULL)
		rc->count++;
}

/* reconcile - ask the API about records a new identity list contradicts (no pre-check shortcut) */
static void reconcile(sv_refresher *r, const sv_listed *items, size_t n)
{
	struct recon rc = {items, n, NULL, 0, 0};

	sv_cache_walk(r->env.cache, recon_one, &rc);
	for (size_t i = 0; i < rc.count; i++) {
		sv_refresher_enqueue(r, rc.names[i], SV_PRIO_EXPIRED, SV_JOB_FORCE);
		free(rc.names[i]);
	}
	free(rc.names);
}

/* grant_before - a limiter grant for the request about to be sent */
static int grant_before(void *arg)
{
	struct grant_pace *gp = arg;
	uint64_t t;

	if (gp->n == (int)(sizeof(gp->tickets) / sizeof(gp->tickets[0])) ||
	    sv_ratelimit_acquire_ticket(gp->rl, &t) < 0)
		return -1;
	gp->tickets[gp->n++] = t;
	gp->grants++;
	return 0;
}

/* grant_after - the latest granted request has its answer or failed */
static void grant_after(void *arg)
{
	struct grant_pace *gp = arg;

	if (gp->n > 0)
		sv_ratelimit_done(gp->rl, gp->tickets[--gp->n]);
}

/*
 * mark_dropped - domains the previous list called enabled and the new one
 *	lacks keep (or get) SV_REC_LISTED|SV_REC_ENABLED on their cache
 *	record, so that refresh_existence confirms their absence with one
 *	UpdateEmailIdentity before calling them not set up.  r->items is
 *	written only by the fetching worker, which calls this.
 */
static void mark_dropped(sv_refresher *r, const sv_listed *items, size_t n)
{
	for (size_t i = 0; i < r->nitems; i++)
		if (r->items[i].sending_enabled && !find_listed(items, n, r->items[i].name))
			sv_cache_mark(r->env.cache, r->items[i].name,
			              SV_REC_LISTED | SV_REC_ENABLED, 0, 1);
}

/*
 * fetch_list - ListEmailIdentities (all pages), caller set list_fetching
 *	Each page is one API request and takes its own limiter token just
 *	before it is sent (sv_client_list_identities_paced), so ApiRate
 *	holds in every sliding second whatever the size of the account.
 */
static int fetch_list(sv_refresher *r, struct worker *w)
{
	sv_listed *items = NULL;
	sv_identity err;
	size_t n = 0;
	struct grant_pace lp = {.rl = r->env.rl};
	sv_pacer pacer = {grant_before, grant_after, &lp};
	int rc = -1;
	int64_t shared_at = 0;

	memset(&err, 0, sizeof(err));
	if (!w->client) {
		no_client(w, "", &err);
		config_error(r, "ListEmailIdentities", &err);
		goto done;
	}
	if (r->env.shared_list &&
	    r->env.shared_list(r->env.shared_arg, &items, &n, &shared_at) == 1)
		goto got; /* another host fetched it moments ago */
	rc = sv_client_list_identities_paced(w->client, &pacer, &items, &n, &err);
	sv_log(SV_LOG_DEBUG, "identity list: %zu pages, one limiter token each", lp.grants);
	if (rc < 0 && sv_atomic_load(&r->stop))
		goto done; /* shutting down: the limiter refused the next page */
	if (rc < 0) {
		rc = -1;
		if (err.error_class == SV_ECLASS_RATE_LIMITED) {
			sv_stat_inc(r->st.rate_limited, 1);
			sv_ratelimit_penalize(r->env.rl);
		}
		sv_stat_inc(r->st.list_errors, 1);
		if (err.error_class == SV_ECLASS_CONFIG)
			config_error(r, "ListEmailIdentities", &err);
		else
			sv_log(SV_LOG_WARNING,
			       "ListEmailIdentities failed: %s%s%s; checking domains one by one",
			       err.error_code, err.error_message ? ": " : "",
			       err.error_message ? err.error_message : "");
		free(items);
		items = NULL;
		goto done;
	}
got:
	for (size_t i = 0; i < n; i++) {
		char norm[SV_DOMAIN_MAX + 1];
		const char *why;
		if (sv_domain_normalize(items[i].name, norm, &why) == 0)
			memcpy(items[i].name, norm, sizeof(norm));
	}
	qsort(items, n, sizeof(*items), cmp_listed);
	if (!shared_at && r->env.shared_list_put)
		r->env.shared_list_put(r->env.shared_arg, items, n);
	sv_log(SV_LOG_INFO, "identity list: %zu sender domains", n);
	mark_dropped(r, items, n);
	reconcile(r, items, n);
	rc = 0;
done:
	if (rc < 0 && r->env.shared_list_put)
		r->env.shared_list_put(r->env.shared_arg, NULL, 0); /* lets the others try */
	pthread_mutex_lock(&r->list_lock);
	r->list_attempt_at = sv_cache_now_ms();
	/* a failed fetch is retried with backoff; meanwhile domains are asked one by one */
	r->list_failures = rc == 0 ? 0 : r->list_failures + 1;
	r->list_retry_ms = rc == 0
	                       ? LIST_RETRY_MS
	                       : sv_cache_backoff(r->list_failures, 2 * LIST_RETRY_MS, xrand(w));
	if (rc == 0) {
		free(r->items);
		r->items = items;
		r->nitems = n;
		r->list_ok = 1;
		r->list_fetched_at = shared_at ? shared_at : r->list_attempt_at;
	}
	r->list_fetching = 0;
	pthread_cond_broadcast(&r->list_cond);
	pthread_mutex_unlock(&r->list_lock);
	sv_identity_clear(&err);
	return rc;
}

enum { L_ABSENT, L_PRESENT, L_ENABLED, L_UNAVAILABLE };

/*
 * list_check - existence of domain per the identity list
 *	The list must have been fetched at most a minute before "since" (the
 *	domain's arrival) or after it: a domain queued behind thousands of
 *	others is not a reason to fetch the list again.
 */
static int list_check(sv_refresher *r, struct worker *w, const char *domain, int force,
                      int64_t since)
{
	const sv_listed *l;
	int64_t now = sv_cache_now_ms();
	int rc = L_UNAVAILABLE;

	pthread_mutex_lock(&r->list_lock);
	while (!sv_atomic_load(&r->stop) &&
	       (force || !r->list_ok || r->list_fetched_at < since - LIST_FRESH_MS)) {
		if (r->list_fetching) {
			struct timespec ts = sv_mono_deadline(1000);
			pthread_cond_timedwait(&r->list_cond, &r->list_lock, &ts);
			now = sv_cache_now_ms();
			force = 0;
			continue;
		}
		if (!force && r->list_attempt_at && now - r->list_attempt_at < r->list_retry_ms)
			break;
		r->list_fetching = 1;
		pthread_mutex_unlock(&r->list_lock);
		fetch_list(r, w);
		pthread_mutex_lock(&r->list_lock);
		now = sv_cache_now_ms();
		break;
	}
	if (r->list_ok && r->list_fetched_at >= since - LIST_FRESH_MS - 5000) {
		l = find_listed(r->items, r->nitems, domain);
		rc = !l ? L_ABSENT : l->sending_enabled ? L_ENABLED : L_PRESENT;
	}
	pthread_mutex_unlock(&r->list_lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the refresh rules                                                  */

/* store - put the new record and log what happened */
static void store(sv_refresher *r, const char *domain, sv_cache_rec *rec)
{
	if (sv_cache_put(r->env.cache, domain, rec) < 0)
		sv_log(SV_LOG_WARNING, "%s: cannot store the cache record (out of memory?)",
		       domain);
}

/* api_refresh - call the API and fold the answer into rec */
static void api_refresh(sv_refresher *r, struct worker *w, const char *domain, sv_cache_rec *rec,
                        const sv_cache_ttl *t)
{
	sv_identity id;
	sv_cache_rec s;
	int64_t now;
	int lease = -1;

	if (r->env.shared_lease &&
	    (lease = r->env.shared_lease(r->env.shared_arg, domain, rec, &s)) == 1) {
		s.flags |= rec->flags & ~(unsigned)SV_REC_PERSIST_MASK;
		sv_cache_rec_clear(rec);
		*rec = s; /* another host asked SES meanwhile: its answer, no call */
		return;
	}
	call_update(r, w, domain, &id);
	now = sv_cache_now_ms();
	if (id.error_class == SV_ECLASS_NOT_EXIST || id.state == SV_STATE_NOT_EXIST) {
		id.state = SV_STATE_NOT_EXIST;
		sv_cache_apply_answer(rec, &id, now, t);
		if (r->env.shared_put)
			r->env.shared_put(r->env.shared_arg, domain, rec);
	} else if (id.error_class == SV_ECLASS_NONE &&
	           (id.state == SV_STATE_VERIFIED || id.state == SV_STATE_UNVERIFIED)) {
		sv_cache_apply_answer(rec, &id, now, t);
		if (r->env.shared_put)
			r->env.shared_put(r->env.shared_arg, domain, rec);
	} else {
		if (!id.error_code[0])
			snprintf(id.error_code, sizeof(id.error_code), "Transport.Failed");
		if (id.error_class == SV_ECLASS_CONFIG)
			config_error(r, "UpdateEmailIdentity", &id);
		else
			sv_log(SV_LOG_INFO, "%s: UpdateEmailIdentity failed (%s): %s%s%s", domain,
			       sv_error_class_name(id.error_class), id.error_code,
			       id.error_message ? ": " : "",
			       id.error_message ? id.error_message : "");
		sv_cache_apply_error(rec, &id, now, t, xrand(w));
	}
	sv_log(SV_LOG_DEBUG, "%s: API says %s (RequestId %s)", domain, sv_state_name(rec->state),
	       id.request_id[0] ? id.request_id : "-");
	sv_identity_clear(&id);
	if (lease == 0)
		r->env.shared_unlease(r->env.shared_arg, domain); /* the answer is in Redis */
}

/* precheck - run the DNS pre-check; the verdict, or UNAVAILABLE */
static sv_precheck_verdict precheck(struct worker *w, const char *domain, const sv_cache_rec *rec)
{
	sv_precheck_result pc;
	sv_precheck_verdict v;

	if (!w->res)
		return SV_PRECHECK_UNAVAILABLE;
	memset(&pc, 0, sizeof(pc));
	if (sv_precheck(w->res, domain, rec ? rec->attrs : NULL, rec ? rec->nattrs : 0, &pc) < 0)
		v = SV_PRECHECK_UNAVAILABLE;
	else
		v = pc.verdict;
	sv_precheck_result_clear(&pc);
	return v;
}

/*
 * values_unchanged - does every value SES listed (a comma/space separated
 *	list of host names or addresses, MX preferences skipped) still appear
 *	in the live list?  False when SES listed none.
 */
static int values_unchanged(const char *ses, const char *live, int hosts)
{
	char *sv = strdup(ses), *s1, *t;
	int found = 0, all = sv != NULL;

	for (t = sv ? strtok_r(sv, ", \t", &s1) : NULL; t && all; t = strtok_r(NULL, ", \t", &s1)) {
		char *lv, *s2, *u;
		int hit = 0;
		if (t[strspn(t, "0123456789")] == 0)
			continue; /* an MX preference */
		found = 1;
		if ((lv = strdup(live)) == NULL)
			break;
		for (u = strtok_r(lv, ", \t", &s2); u && !hit; u = strtok_r(NULL, ", \t", &s2))
			hit = hosts ? dnsnorm_host_equal(t, u) : strcmp(t, u) == 0;
		free(lv);
		all = hit;
	}
	free(sv);
	return found && all;
}

/*
 * attr_unchanged - is a failing record's live answer still the one SES saw?
 *	Missing now and SES saw nothing, or the same value (TXT with white
 *	space runs collapsed; host names and addresses as sets).
 */
static int attr_unchanged(const sv_attr *ses, const sv_pc_item *it)
{
	const char *was = ses->current ? ses->current : "";
	const char *now = it->attr.current ? it->attr.current : "";

	if (it->verdict == SV_PC_MISSING)
		return was[0] == 0;
	if (it->verdict != SV_PC_MISMATCH || was[0] == 0)
		return 0;
	if (strcasecmp(ses->type, "TXT") == 0)
		return dnsnorm_txt_equal(was, now);
	if (strcasecmp(ses->type, "CNAME") == 0)
		return dnsnorm_host_equal(was, now);
	return values_unchanged(was, now, strcasecmp(ses->type, "MX") == 0);
}

/*
 * precheck_failing - the pre-check of an unverified answer
 *	Only the records SES reported as failing (Status false) are judged:
 *	SES's own comparison decides the others, and the pre-check's rules are
 *	stricter than SES's (an SPF record ending "-all", another MX).  LACKS
 *	when one of them is still missing or wrong exactly as SES saw it (an
 *	API call cannot change the answer); MATCHES when every one of them
 *	now matches or changed since SES's answer; NXDOMAIN and UNAVAILABLE
 *	as sv_precheck says; EXISTS when SES reported no failing record.
 */
static sv_precheck_verdict precheck_failing(struct worker *w, const char *domain,
                                            const sv_cache_rec *rec)
{
	sv_attr failing[SV_ATTR_MAX];
	sv_precheck_result pc;
	sv_precheck_verdict v;
	size_t n = 0;

	if (!w->res)
		return SV_PRECHECK_UNAVAILABLE;
	for (size_t i = 0; i < rec->nattrs && n < SV_ATTR_MAX; i++)
		if (!rec->attrs[i].status)
			failing[n++] = rec->attrs[i]; /* sv_precheck copies what it keeps */
	memset(&pc, 0, sizeof(pc));
	if (sv_precheck(w->res, domain, failing, n, &pc) < 0) {
		v = SV_PRECHECK_UNAVAILABLE;
	} else if ((v = pc.verdict) == SV_PRECHECK_LACKS) {
		v = SV_PRECHECK_MATCHES;
		for (size_t i = 0; i < pc.nitems && i < n; i++)
			if (pc.items[i].verdict != SV_PC_MATCH &&
			    attr_unchanged(&failing[i], &pc.items[i]))
				v = SV_PRECHECK_LACKS;
	}
	sv_precheck_result_clear(&pc);
	return v;
}

/* apply_nxdomain - the domain is not in DNS: not_exist without an API call, coded as such */
static void apply_nxdomain(sv_refresher *r, sv_cache_rec *rec, const sv_cache_ttl *t)
{
	sv_stat_inc(r->st.saved_precheck, 1);
	sv_cache_apply_not_exist(rec, "domain does not exist in DNS (NXDOMAIN)", sv_cache_now_ms(),
	                         t);
	snprintf(rec->error_code, sizeof(rec->error_code), "%s", SV_ECODE_NXDOMAIN);
}

/* refresh_answered - verified/unverified: pre-check may spare the call */
static void refresh_answered(sv_refresher *r, struct worker *w, const char *domain,
                             sv_cache_rec *rec, const sv_cache_ttl *t)
{
	sv_precheck_verdict v = rec->state == SV_STATE_UNVERIFIED ? precheck_failing(w, domain, rec)
	                                                          : precheck(w, domain, rec);
	int64_t now = sv_cache_now_ms();

	if (v == SV_PRECHECK_NXDOMAIN) {
		apply_nxdomain(r, rec, t);
		return;
	}
	if (rec->nattrs > 0 && ((rec->state == SV_STATE_VERIFIED && v == SV_PRECHECK_MATCHES) ||
	                        (rec->state == SV_STATE_UNVERIFIED && v == SV_PRECHECK_LACKS))) {
		if (sv_cache_apply_extend(rec, now, t) == 0) {
			sv_stat_inc(r->st.saved_precheck, 1);
			sv_stat_inc(r->st.extended, 1);
			return;
		}
	}
	api_refresh(r, w, domain, rec, t);
}

/*
 * last_enabled - did the last list that held domain call it enabled?
 *	The list fetched during this job may have marked the record
 *	(mark_dropped) after rec was read: look again.
 */
static int last_enabled(sv_refresher *r, const char *domain, const sv_cache_rec *rec)
{
	sv_cache_rec now;
	int enabled = (rec->flags & SV_REC_ENABLED) != 0;

	if (!enabled && sv_cache_get(r->env.cache, domain, &now) == 0) {
		enabled = (now.flags & SV_REC_ENABLED) != 0;
		sv_cache_rec_clear(&now);
	}
	return enabled;
}

/*
 * refresh_existence - never-seen, not_exist, error records
 *	Absent from the list: not_exist; listed with SendingEnabled: verified;
 *	listed otherwise (or no list): NXDOMAIN makes not_exist, else one
 *	UpdateEmailIdentity learns state and attributes.
 */
static void refresh_existence(sv_refresher *r, struct worker *w, const char *domain, int64_t since,
                              sv_cache_rec *rec, const sv_cache_ttl *t)
{
	int l = list_check(r, w, domain, 0, since);

	if (l == L_ABSENT && last_enabled(r, domain, rec)) {
		/* SES last called it verified: one UpdateEmailIdentity confirms
		 * the list before anything says "not set up" */
		sv_log(SV_LOG_NOTICE,
		       "%s: absent from ListEmailIdentities but last listed as enabled; asking "
		       "UpdateEmailIdentity",
		       domain);
		rec->flags |= SV_REC_LISTED | SV_REC_ENABLED; /* kept until SES answers */
		api_refresh(r, w, domain, rec, t);
		if (rec->state == SV_STATE_NOT_EXIST || rec->state == SV_STATE_UNVERIFIED)
			rec->flags &= ~(unsigned)(SV_REC_LISTED | SV_REC_ENABLED);
		return;
	}
	if (l == L_ABSENT) {
		sv_stat_inc(r->st.saved_list, 1);
		sv_cache_apply_not_exist(
		    rec, "not set up in Tencent Cloud SES (absent from ListEmailIdentities)",
		    sv_cache_now_ms(), t);
		return;
	}
	if (l == L_ENABLED) {
		/* SendingEnabled is VerifiedForSendingStatus: verified without a call;
		 * the attributes come with the first API refresh after VerifiedTTL */
		sv_identity id;
		memset(&id, 0, sizeof(id));
		id.state = SV_STATE_VERIFIED;
		sv_stat_inc(r->st.saved_list, 1);
		sv_cache_apply_answer(rec, &id, sv_cache_now_ms(), t);
		rec->flags |= SV_REC_LISTED | SV_REC_ENABLED;
		return;
	}
	if (precheck(w, domain, NULL) == SV_PRECHECK_NXDOMAIN) {
		apply_nxdomain(r, rec, t);
		return;
	}
	api_refresh(r, w, domain, rec, t);
}

/* process - one job */
static void process(sv_refresher *r, struct worker *w, const char *domain, unsigned flags,
                    int64_t since)
{
	sv_cache_rec rec;
	sv_cache_ttl t;

	pthread_mutex_lock(&r->lock);
	t = r->env.ttl;
	pthread_mutex_unlock(&r->lock);
	if (sv_cache_get(r->env.cache, domain, &rec) < 0)
		memset(&rec, 0, sizeof(rec));
	if (!(flags & SV_JOB_FORCE) && r->env.shared_get && rec.fetched_at >= since &&
	    (rec.state == SV_STATE_VERIFIED || rec.state == SV_STATE_UNVERIFIED ||
	     rec.state == SV_STATE_NOT_EXIST) &&
	    rec.expires_at > sv_cache_now_ms()) {
		sv_cache_rec_clear(&rec); /* answered since queued (another host, pub/sub) */
		return;
	}
	if (!(flags & SV_JOB_FORCE) && r->env.shared_get) {
		sv_cache_rec s;
		if (r->env.shared_get(r->env.shared_arg, domain, &rec, &s) == 1) {
			/* another host answered it: no API call */
			s.flags |= rec.flags & ~(unsigned)SV_REC_PERSIST_MASK;
			store(r, domain, &s);
			sv_cache_rec_clear(&s);
			sv_cache_rec_clear(&rec);
			return;
		}
	}
	if (flags & SV_JOB_FORCE)
		api_refresh(r, w, domain, &rec, &t);
	else if (rec.state == SV_STATE_VERIFIED || rec.state == SV_STATE_UNVERIFIED)
		refresh_answered(r, w, domain, &rec, &t);
	else
		refresh_existence(r, w, domain, since, &rec, &t);
	store(r, domain, &rec);
	sv_cache_rec_clear(&rec);
}

/* ------------------------------------------------------------------ */
/* warm-up                                                            */

/* warm_up - fill the cache from the identity list */
static void warm_up(sv_refresher *r, struct worker *w)
{
	sv_listed *items;
	size_t n;
	int64_t now;
	sv_cache_ttl t;

	if (list_check(r, w, "", 1, sv_cache_now_ms()) == L_UNAVAILABLE)
		return;
	pthread_mutex_lock(&r->list_lock);
	n = r->nitems;
	items = n ? malloc(n * sizeof(*items)) : NULL;
	if (items)
		memcpy(items, r->items, n * sizeof(*items));
	else
		n = 0;
	pthread_mutex_unlock(&r->list_lock);
	pthread_mutex_lock(&r->lock);
	t = r->env.ttl;
	pthread_mutex_unlock(&r->lock);
	now = sv_cache_now_ms();
	for (size_t i = 0; i < n; i++) {
		sv_cache_rec rec;
		if (sv_cache_get(r->env.cache, items[i].name, &rec) == 0 &&
		    (rec.state == SV_STATE_VERIFIED || rec.state == SV_STATE_UNVERIFIED)) {
			sv_cache_rec_clear(&rec);
			continue; /* a snapshot answer; reconcile queued it if contradicted */
		}
		sv_cache_rec_clear(&rec);
		if (items[i].sending_enabled) {
			rec.state = SV_STATE_VERIFIED;
			rec.flags = SV_REC_LISTED | SV_REC_ENABLED;
			rec.fetched_at = rec.api_checked_at = now;
			rec.expires_at = now + t.verified;
			store(r, items[i].name, &rec);
		} else {
			/* DESIGN.md: listed but not enabled is unknown until its attributes are in
			 */
			sv_cache_mark(r->env.cache, items[i].name, SV_REC_LISTED, 0, 1);
			sv_refresher_enqueue(r, items[i].name, SV_PRIO_EXPIRED, 0);
		}
		if (r->env.done)
			r->env.done(items[i].name, r->env.done_arg);
	}
	sv_log(SV_LOG_INFO, "warm-up: %zu sender domains from ListEmailIdentities", n);
	free(items);
}

/* ------------------------------------------------------------------ */
/* workers                                                            */

/* swap_clients - (re)build this worker's API client and resolver */
static void swap_clients(sv_refresher *r, struct worker *w)
{
	const sv_config *cfg;
	unsigned gen;
	char err[200];

	pthread_mutex_lock(&r->lock);
	cfg = r->env.cfg;
	gen = r->gen;
	pthread_mutex_unlock(&r->lock);
	sv_client_free(w->client);
	sv_resolver_free(w->res);
	w->client_err[0] = 0;
	if ((w->client = sv_client_new(cfg, w->client_err, sizeof(w->client_err))) == NULL &&
	    !w->client_err[0])
		snprintf(w->client_err, sizeof(w->client_err), "cannot create the API client");
	err[0] = 0;
	if ((w->res = sv_resolver_new(cfg, err, sizeof(err))) == NULL)
		sv_log(SV_LOG_DEBUG, "pre-check unavailable: %s", err);
	if (!w->client)
		sv_log(SV_LOG_DEBUG, "API client unavailable: %s", w->client_err);
	w->rp = (struct grant_pace){.rl = r->env.rl};
	w->resend = (sv_pacer){grant_before, grant_after, &w->rp};
	sv_client_set_resend_pacer(w->client, &w->resend);
	sv_client_set_stop_flag(w->client, &r->stop); /* a stop does not wait for ApiTimeout */
	pthread_mutex_lock(&r->lock);
	w->gen = gen;
	pthread_cond_broadcast(&r->ack);
	pthread_mutex_unlock(&r->lock);
}

/* pop - next job, or NULL at stop; also runs list and client chores */
static struct job *pop(sv_refresher *r, struct worker *w)
{
	struct job *j;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		if (w->gen != r->gen) {
			pthread_mutex_unlock(&r->lock);
			swap_clients(r, w);
			pthread_mutex_lock(&r->lock);
			continue;
		}
		if (r->warm_wanted || r->list_wanted) {
			int warm = r->warm_wanted;
			r->warm_wanted = r->list_wanted = 0;
			pthread_mutex_unlock(&r->lock);
			if (warm)
				warm_up(r, w);
			else
				list_check(r, w, "", 1, sv_cache_now_ms());
			pthread_mutex_lock(&r->lock);
			continue;
		}
		for (int p = 0; p < SV_PRIO_N; p++) {
			if ((j = r->head[p]) != NULL) {
				q_remove(r, j);
				j->inflight = 1;
				pthread_mutex_unlock(&r->lock);
				return j;
			}
		}
		pthread_cond_wait(&r->cond, &r->lock);
	}
}

/* run_job - process a job taken from its queue, then finish it */
static void run_job(sv_refresher *r, struct worker *w, struct job *j)
{
	unsigned flags;
	int64_t since;

	/* flags asked while this run is in flight belong to the rerun */
	pthread_mutex_lock(&r->lock);
	flags = j->flags;
	since = j->queued_at;
	j->flags = 0;
	pthread_mutex_unlock(&r->lock);
	process(r, w, j->domain, flags, since);
	finish_job(r, j);
}

/* run_urgent - the queued jobs mail waits for, run by a worker waiting for a grant */
static void run_urgent(sv_refresher *r, struct worker *w)
{
	struct job *j;

	w->nested = 1;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		if (r->stop || (j = r->head[SV_PRIO_UNKNOWN]) == NULL) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		q_remove(r, j);
		j->inflight = 1;
		pthread_mutex_unlock(&r->lock);
		run_job(r, w, j);
	}
	w->nested = 0;
}

/* worker_main - take jobs until stopped */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	sv_refresher *r = w->r;
	struct job *j;

	while ((j = pop(r, w)) != NULL) {
		w->job = j;
		run_job(r, w, j);
		w->job = NULL;
	}
	sv_client_free(w->client);
	sv_resolver_free(w->res);
	w->client = NULL;
	w->res = NULL;
	return NULL;
}

/* sv_refresher_new - queues and workers (not yet running) */
sv_refresher *sv_refresher_new(const sv_refresher_env *env, char *err, size_t errlen)
{
	sv_refresher *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->tab = calloc(NBUCKET, sizeof(*r->tab))) == NULL)
		goto nomem;
	r->env = *env;
	if (r->env.workers < 1)
		r->env.workers = 1;
	if (r->env.max_jobs < 1000)
		r->env.max_jobs = 1000;
	if ((r->w = calloc((size_t)r->env.workers, sizeof(*r->w))) == NULL)
		goto nomem;
	r->nw = r->env.workers;
	pthread_mutex_init(&r->lock, NULL);
	sv_cond_init_mono(&r->cond);
	sv_cond_init_mono(&r->ack);
	pthread_mutex_init(&r->list_lock, NULL);
	sv_cond_init_mono(&r->list_cond);
	r->gen = 1;
	r->last_config_log = -LOG_EVERY_MS;
	r->st.rate_limited = sv_stat_counter("refresh.rate_limited_retries");
	r->st.saved_precheck = sv_stat_counter("api.saved.precheck");
	r->st.saved_list = sv_stat_counter("api.saved.list");
	r->st.queued = sv_stat_counter("refresh.queued");
	r->st.coalesced = sv_stat_counter("refresh.coalesced");
	r->st.dropped = sv_stat_counter("refresh.dropped");
	r->st.done = sv_stat_counter("refresh.done");
	r->st.extended = sv_stat_counter("refresh.extended");
	r->st.config_errors = sv_stat_counter("api.config_errors");
	r->st.list_errors = sv_stat_counter("api.list_errors");
	r->list_retry_ms = LIST_RETRY_MS;
	return r;
nomem:
	if (r)
		free(r->tab);
	free(r);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* sv_refresher_start - run the workers; warm_up queues the list fill first */
int sv_refresher_start(sv_refresher *r, int warm_up_first)
{
	int started = 0;

	pthread_mutex_lock(&r->lock);
	r->warm_wanted = warm_up_first;
	pthread_mutex_unlock(&r->lock);
	for (int i = 0; i < r->nw; i++) {
		struct worker *w = &r->w[i];
		w->r = r;
		w->gen = 0;
		w->rnd = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ULL) ^
		         (uint64_t)sv_cache_now_ms();
		if (pthread_create(&w->tid, NULL, worker_main, w) == 0) {
			w->started = 1;
			started++;
		}
	}
	return started > 0 ? 0 : -1;
}

/*
 * sv_refresher_reconfigure - new TTLs now; new clients before returning
 *	Waits until every worker has rebuilt its client from cfg (a worker in
 *	the middle of a request finishes it first), so that the caller may
 *	free the old config afterwards.
 */
int sv_refresher_reconfigure(sv_refresher *r, const sv_config *cfg, const sv_cache_ttl *ttl)
{
	struct timespec ts = sv_mono_deadline(30000);
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	r->env.ttl = *ttl;
	r->env.cfg = cfg;
	r->gen++;
	pthread_cond_broadcast(&r->cond);
	for (;;) {
		int behind = 0;
		for (int i = 0; i < r->nw; i++)
			if (r->w[i].started && r->w[i].gen != r->gen)
				behind++;
		if (!behind || r->stop)
			break;
		if (pthread_cond_timedwait(&r->ack, &r->lock, &ts) != 0) {
			rc = -1;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* sv_refresher_stop - stop taking jobs, wake everybody, join */
void sv_refresher_stop(sv_refresher *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_cond_broadcast(&r->ack);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_lock(&r->list_lock);
	pthread_cond_broadcast(&r->list_cond);
	pthread_mutex_unlock(&r->list_lock);
	sv_ratelimit_shutdown(r->env.rl);
	for (int i = 0; i < r->nw; i++) {
		if (r->w[i].started)
			pthread_join(r->w[i].tid, NULL);
		r->w[i].started = 0;
	}
}

/* sv_refresher_free - stop and release; queued jobs are dropped */
void sv_refresher_free(sv_refresher *r)
{
	if (!r)
		return;
	sv_refresher_stop(r);
	for (size_t i = 0; i < NBUCKET; i++) {
		struct job *j, *n;
		for (j = r->tab[i]; j; j = n) {
			n = j->hnext;
			free(j);
		}
	}
	free(r->tab);
	free(r->items);
	free(r->w);
	pthread_cond_destroy(&r->cond);
	pthread_cond_destroy(&r->ack);
	pthread_cond_destroy(&r->list_cond);
	pthread_mutex_destroy(&r->list_lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
