/*
 * refresher.c - the refresher's workers and its interface to the engine
 *	(see refresher.h): threads, their API clients, the order in which
 *	they take jobs and grants, reconfiguration and shutdown.
 *	Owns the worker threads and puts the parts of refresh_int.h
 *	together: the job queue (refresh_queue.c), the identity list
 *	(identity_list.c), the refresh rules (refresh_rules.c) and the
 *	warm-up (warmup.c).  It does not store records (cache*.c), does
 *	not decide TTL arithmetic (cache.c) and does not pace calls itself
 *	(ratelimit.c).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "log.h"
#include "refresh_int.h"
#include "sesapi.h"
#include "stats.h"

struct worker {
	sv_tools t; /* first: the rules' grant hook gets &w->t back */
	sv_refresher *r;
	pthread_t tid;
	int started;
	unsigned gen;
	sv_grant_pace rp; /* grants libcurl's re-sends */
	sv_pacer resend;
	sv_job *job; /* the job taken from the queue, in flight */
	int nested;  /* running a waiting mail's job while job waits for a grant */
};

struct sv_refresher {
	sv_refresher_env env;
	pthread_mutex_t lock; /* env.ttl, env.cfg, gen, the wanted flags, workers' gen */
	pthread_cond_t ack;
	int stop, list_wanted, warm_wanted;
	unsigned gen;
	struct worker *w;
	int nw;

	sv_rqueue *queue;
	sv_idlist *list;
	sv_rules rules;
	sv_errlog log;
	sv_refresh_stats st;
};

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
	if (sv_rqueue_push(r->queue, domain, prio, flags) < 0) {
		if (!(old & SV_REC_REFRESHING))
			sv_cache_mark(r->env.cache, domain, 0, SV_REC_REFRESHING, 0);
		return -1;
	}
	if (prio == SV_PRIO_UNKNOWN && r->env.rl)
		sv_ratelimit_kick(r->env.rl); /* workers waiting for a grant give way */
	return 0;
}

/* enqueue_hook - sv_refresher_enqueue for the list and the rules */
static int enqueue_hook(void *arg, const char *domain, int prio, unsigned flags)
{
	return sv_refresher_enqueue(arg, domain, prio, flags);
}

/* ttl_hook - the TTLs now */
static sv_cache_ttl ttl_hook(void *arg)
{
	sv_refresher *r = arg;
	sv_cache_ttl t;

	pthread_mutex_lock(&r->lock);
	t = r->env.ttl;
	pthread_mutex_unlock(&r->lock);
	return t;
}

/* finish_job - store done; rerun when asked meanwhile, else free */
static void finish_job(sv_refresher *r, sv_job *j)
{
	char domain[SV_DOMAIN_MAX + 1];
	int again;

	snprintf(domain, sizeof(domain), "%s", sv_job_domain(j));
	again = sv_rqueue_finish(r->queue, j);
	if (!again)
		sv_cache_mark(r->env.cache, domain, 0, SV_REC_REFRESHING, 0);
	sv_stat_inc(r->st.done, 1);
	if (r->env.done)
		r->env.done(domain, r->env.done_arg);
}

/* sv_refresher_pending - jobs queued or in flight */
size_t sv_refresher_pending(sv_refresher *r)
{
	return sv_rqueue_pending(r->queue);
}

/* sv_refresher_want_list - have a worker refresh the identity list soon */
void sv_refresher_want_list(sv_refresher *r)
{
	pthread_mutex_lock(&r->lock);
	r->list_wanted = 1;
	pthread_mutex_unlock(&r->lock);
	sv_rqueue_wake(r->queue);
}

/* sv_refresher_forget_list - the identity list belongs to another account now */
void sv_refresher_forget_list(sv_refresher *r)
{
	sv_idlist_forget(r->list);
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

	return sv_rqueue_urgent(w->r->queue, w->job, 1);
}

/*
 * grant - one limiter grant for an UpdateEmailIdentity (the rules' hook)
 *	Mail waiting for an answer comes first: a job mail waits for asks
 *	as urgent; any other job, while it waits, gives way by running the
 *	queued jobs mail waits for itself (its client is idle until the
 *	grant), so a backlog of refreshes in flight never delays them.
 */
static int grant(sv_tools *t, uint64_t *ticket)
{
	struct worker *w = (struct worker *)t;
	sv_refresher *r = w->r;

	for (;;) {
		int urgent, rc;
		urgent = w->nested || sv_rqueue_urgent(r->queue, w->job, 0);
		rc = sv_ratelimit_acquire_prio(r->env.rl, ticket, urgent, urgent ? NULL : give_way,
		                               w);
		if (rc != 1)
			return rc;
		run_urgent(r, w);
	}
}

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
	sv_client_free(w->t.client);
	sv_resolver_free(w->t.res);
	w->t.client_err[0] = 0;
	if ((w->t.client = sv_client_new(cfg, w->t.client_err, sizeof(w->t.client_err))) == NULL &&
	    !w->t.client_err[0])
		snprintf(w->t.client_err, sizeof(w->t.client_err), "cannot create the API client");
	err[0] = 0;
	if ((w->t.res = sv_resolver_new(cfg, err, sizeof(err))) == NULL)
		sv_log(SV_LOG_DEBUG, "pre-check unavailable: %s", err);
	if (!w->t.client)
		sv_log(SV_LOG_DEBUG, "API client unavailable: %s", w->t.client_err);
	sv_grant_pacer(&w->rp, r->env.rl, &w->resend);
	sv_client_set_resend_pacer(w->t.client, &w->resend);
	sv_client_set_stop_flag(w->t.client, &r->stop); /* a stop does not wait for ApiTimeout */
	pthread_mutex_lock(&r->lock);
	w->gen = gen;
	pthread_cond_broadcast(&r->ack);
	pthread_mutex_unlock(&r->lock);
}

/* chore - a new configuration, the warm-up or the list wanted (queue lock held) */
static int chore(void *arg)
{
	struct worker *w = arg;
	int c;

	pthread_mutex_lock(&w->r->lock);
	c = w->gen != w->r->gen || w->r->warm_wanted || w->r->list_wanted;
	pthread_mutex_unlock(&w->r->lock);
	return c;
}

/* pop - next job, or NULL at stop; also runs list and client chores */
static sv_job *pop(sv_refresher *r, struct worker *w)
{
	sv_job *j;
	int rc;

	while ((rc = sv_rqueue_wait(r->queue, chore, w, &j)) == 0) {
		int warm, list;
		pthread_mutex_lock(&r->lock);
		if (w->gen != r->gen) {
			pthread_mutex_unlock(&r->lock);
			swap_clients(r, w);
			continue;
		}
		warm = r->warm_wanted;
		list = r->list_wanted;
		r->warm_wanted = r->list_wanted = 0;
		pthread_mutex_unlock(&r->lock);
		if (warm)
			sv_warm_up(&r->rules, &w->t);
		else if (list)
			sv_idlist_check(r->list, &w->t, "", 1, sv_cache_now_ms());
	}
	return rc > 0 ? j : NULL;
}

/* run_job - process a job taken from its queue, then finish it */
static void run_job(sv_refresher *r, struct worker *w, sv_job *j)
{
	unsigned flags;
	int64_t since;

	/* flags asked while this run is in flight belong to the rerun */
	flags = sv_rqueue_begin(r->queue, j, &since);
	sv_refresh_process(&r->rules, &w->t, sv_job_domain(j), flags, since);
	finish_job(r, j);
}

/* run_urgent - the queued jobs mail waits for, run by a worker waiting for a grant */
static void run_urgent(sv_refresher *r, struct worker *w)
{
	sv_job *j;

	w->nested = 1;
	while ((j = sv_rqueue_take_urgent(r->queue)) != NULL)
		run_job(r, w, j);
	w->nested = 0;
}

/* worker_main - take jobs until stopped */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	sv_refresher *r = w->r;
	sv_job *j;

	while ((j = pop(r, w)) != NULL) {
		w->job = j;
		run_job(r, w, j);
		w->job = NULL;
	}
	sv_client_free(w->t.client);
	sv_resolver_free(w->t.res);
	w->t.client = NULL;
	w->t.res = NULL;
	return NULL;
}

/* sv_refresher_new - queues and workers (not yet running) */
sv_refresher *sv_refresher_new(const sv_refresher_env *env, char *err, size_t errlen)
{
	sv_refresher *r;
	sv_idlist_env le;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->env = *env;
	if (r->env.workers < 1)
		r->env.workers = 1;
	if (r->env.max_jobs < 1000)
		r->env.max_jobs = 1000;
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
	le = (sv_idlist_env){.cache = r->env.cache,
	                     .rl = r->env.rl,
	                     .stop = &r->stop,
	                     .log = &r->log,
	                     .st = &r->st,
	                     .enqueue = enqueue_hook,
	                     .arg = r,
	                     .shared_list = r->env.shared_list,
	                     .shared_list_put = r->env.shared_list_put,
	                     .shared_arg = r->env.shared_arg};
	if ((r->w = calloc((size_t)r->env.workers, sizeof(*r->w))) == NULL ||
	    (r->queue = sv_rqueue_new(r->env.max_jobs, &r->st)) == NULL ||
	    (r->list = sv_idlist_new(&le)) == NULL)
		goto nomem;
	r->nw = r->env.workers;
	pthread_mutex_init(&r->lock, NULL);
	sv_cond_init_mono(&r->ack);
	sv_errlog_init(&r->log, r->st.config_errors);
	r->gen = 1;
	r->rules = (sv_rules){.cache = r->env.cache,
	                      .rl = r->env.rl,
	                      .list = r->list,
	                      .log = &r->log,
	                      .st = &r->st,
	                      .env = &r->env,
	                      .grant = grant,
	                      .ttl = ttl_hook,
	                      .enqueue = enqueue_hook,
	                      .arg = r};
	return r;
nomem:
	if (r) {
		sv_rqueue_free(r->queue);
		free(r->w);
	}
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
		w->t.rnd = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ULL) ^
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
	pthread_mutex_unlock(&r->lock);
	sv_rqueue_wake(r->queue); /* the queue's lock is taken before r->lock */
	pthread_mutex_lock(&r->lock);
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
	sv_rqueue_stop(r->queue); /* first: no job taken after this */
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->ack);
	pthread_mutex_unlock(&r->lock);
	sv_idlist_wake(r->list);
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
	sv_rqueue_free(r->queue);
	sv_idlist_free(r->list);
	free(r->w);
	sv_errlog_destroy(&r->log);
	pthread_cond_destroy(&r->ack);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
