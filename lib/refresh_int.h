/*
 * NAME
 *	refresh_int 3h - the parts of the refresher and how they meet
 * SYNOPSIS
 *	#include "refresh_int.h"
 *
 *	Tools of one worker (refresh_tools.c):
 *	unsigned sv_tools_rand(sv_tools *t);
 *	void sv_tools_no_client(const sv_tools *t, const char *domain, sv_identity *id);
 *	void sv_errlog_init(sv_errlog *l, uint64_t *counter);
 *	void sv_errlog_config(sv_errlog *l, const char *what, const sv_identity *id);
 *	void sv_errlog_destroy(sv_errlog *l);
 *	void sv_grant_pacer(sv_grant_pace *gp, sv_ratelimit *rl, sv_pacer *p);
 *
 *	Job queue and single-flight (refresh_queue.c):
 *	sv_rqueue *sv_rqueue_new(size_t max_jobs, const sv_refresh_stats *st);
 *	int  sv_rqueue_push(sv_rqueue *q, const char *domain, int prio, unsigned flags);
 *	int  sv_rqueue_wait(sv_rqueue *q, int (*chore)(void *), void *arg, sv_job **out);
 *	sv_job *sv_rqueue_take_urgent(sv_rqueue *q);
 *	const char *sv_job_domain(const sv_job *j);
 *	unsigned sv_rqueue_begin(sv_rqueue *q, sv_job *j, int64_t *since);
 *	int  sv_rqueue_finish(sv_rqueue *q, sv_job *j);
 *	int  sv_rqueue_urgent(sv_rqueue *q, const sv_job *j, int queued_too);
 *	size_t sv_rqueue_pending(sv_rqueue *q);
 *	void sv_rqueue_wake(sv_rqueue *q);
 *	void sv_rqueue_stop(sv_rqueue *q);
 *	void sv_rqueue_free(sv_rqueue *q);
 *
 *	Identity list (identity_list.c):
 *	sv_idlist *sv_idlist_new(const sv_idlist_env *env);
 *	int  sv_idlist_check(sv_idlist *l, sv_tools *t, const char *domain, int force,
 *			     int64_t since);
 *	sv_listed *sv_idlist_copy(sv_idlist *l, size_t *n);
 *	void sv_idlist_forget(sv_idlist *l);
 *	void sv_idlist_wake(sv_idlist *l);
 *	void sv_idlist_free(sv_idlist *l);
 *
 *	Refresh rules (refresh_rules.c) and warm-up (warmup.c):
 *	void sv_refresh_process(const sv_rules *r, sv_tools *w, const char *domain,
 *				unsigned flags, int64_t since);
 *	void sv_refresh_store(const sv_rules *r, const char *domain, sv_cache_rec *rec);
 *	void sv_warm_up(const sv_rules *r, sv_tools *w);
 * DESCRIPTION
 *	refresher.c (the workers and the public sv_refresher_* of
 *	refresher.h) puts four parts together; each owns its state behind
 *	the functions above, so that a shared (fleet) identity list or
 *	single-flight can replace one part without touching the others.
 *	refresher.c owns the threads, their clients (rebuilt at
 *	reconfigure), the order of grants (mail waiting goes first:
 *	grant, give_way, run_urgent), the cache's refreshing bit and stop.
 *
 *	Tools.  sv_tools is what one worker brings to a job: its API
 *	client, its resolver and its jitter.  sv_errlog logs
 *	configuration/auth failures at most once a minute.
 *	sv_grant_pacer makes p an sv_pacer whose hooks take one limiter
 *	grant per request sent and report it done when its answer is in
 *	(gp->grants counts them).  Owns no client and no job.
 *
 *	Queue.  Owns the jobs: three FIFOs by priority (SV_PRIO_*) and
 *	single-flight (a domain is in at most one job; a push of a queued
 *	domain raises its priority, a push of one in flight asks for one
 *	more run unless only a waiter's SV_PRIO_UNKNOWN asks).  Push
 *	returns 1 new, 0 coalesced, -1 full or stopped.  sv_rqueue_wait
 *	blocks until a job (1, *out marked in flight), a chore (0: the
 *	chore predicate, called with the queue's lock held, returned
 *	true) or stop (-1); sv_rqueue_wake wakes waiters to re-run their
 *	predicate.  Lock order: the queue's lock before the caller's.
 *	begin hands over the flags asked so far and the arrival time;
 *	finish returns 1 when the job was queued again, 0 when it is gone
 *	(j is freed).  sv_rqueue_urgent: mail waits for j (or j is NULL),
 *	or, with queued_too, a job mail waits for is still queued.  Does
 *	not own the cache's refreshing bit nor any network call.
 *
 *	Identity list.  Owns the last ListEmailIdentities answer, its
 *	freshness, the single fetch in flight, the retry backoff after a
 *	failed fetch and what a new list means for the cache (mark the
 *	domains dropped from it, have the contradicted records re-checked
 *	through env->enqueue).  sv_idlist_check returns SV_L_ABSENT,
 *	SV_L_PRESENT, SV_L_ENABLED or SV_L_UNAVAILABLE; "since" is the
 *	domain's arrival (a list fetched at most a minute before is fresh
 *	enough); force fetches now.  sv_idlist_copy gives a malloc'd copy
 *	of the items (NULL and *n = 0 when empty).  Does not own the
 *	answers stored for a domain (only the LISTED/ENABLED flags).
 *
 *	Rules.  sv_rules owns what one job does with a domain: the
 *	DESIGN.md order of pre-check, identity list and API call, and
 *	every answer stored (sv_refresh_store).  The rules reach the list
 *	only through sv_idlist_check and the queue only through r->grant
 *	(a limiter grant that lets mail waiting for an answer go first);
 *	the TTLs through r->ttl.  Do not own the list, the jobs, the
 *	threads or TTL arithmetic (cache.c).
 *
 *	Warm-up.  sv_warm_up fills the cache from a freshly fetched list:
 *	enabled is verified, listed but not enabled is queued for its
 *	attributes.  Does not own the fetch (the list) nor the answers it
 *	finds already there (a snapshot's).
 * SEE ALSO
 *	refresher.h (the interface the engine uses), cache.h, ratelimit.h
 */
#ifndef SV_REFRESH_INT_H
#define SV_REFRESH_INT_H

#include <pthread.h>
#include <stdint.h>

#include "cache.h"
#include "ratelimit.h"
#include "refresher.h"
#include "sesverify.h"

/* the refresher's counters, registered once by sv_refresher_new */
typedef struct sv_refresh_stats {
	uint64_t *rate_limited, *saved_precheck, *saved_list;
	uint64_t *queued, *coalesced, *dropped, *done, *extended, *config_errors;
	uint64_t *list_errors;
} sv_refresh_stats;

/* ------------------------------------------------------------------ */
/* tools of one worker (refresh_tools.c)                              */

typedef struct sv_tools {
	sv_client *client;
	sv_resolver *res;
	char client_err[200];
	uint64_t rnd;
} sv_tools;

typedef struct sv_errlog {
	pthread_mutex_t lock;
	int64_t last;
	uint64_t *counter;
} sv_errlog;

/*
 * sv_grant_pace - the state of an sv_pacer that takes one limiter grant
 *	per request.  A short stack: a list page and libcurl's re-send of it
 *	can be in flight together.
 */
typedef struct sv_grant_pace {
	sv_ratelimit *rl;
	uint64_t tickets[4];
	int n;
	size_t grants; /* taken in all */
} sv_grant_pace;

unsigned sv_tools_rand(sv_tools *t);
void sv_tools_no_client(const sv_tools *t, const char *domain, sv_identity *id);
void sv_errlog_init(sv_errlog *l, uint64_t *counter);
void sv_errlog_config(sv_errlog *l, const char *what, const sv_identity *id);
void sv_errlog_destroy(sv_errlog *l);
void sv_grant_pacer(sv_grant_pace *gp, sv_ratelimit *rl, sv_pacer *p);

/* ------------------------------------------------------------------ */
/* job queue and single-flight (refresh_queue.c)                      */

typedef struct sv_rqueue sv_rqueue;
typedef struct sv_job sv_job;

sv_rqueue *sv_rqueue_new(size_t max_jobs, const sv_refresh_stats *st);
int sv_rqueue_push(sv_rqueue *q, const char *domain, int prio, unsigned flags);
int sv_rqueue_wait(sv_rqueue *q, int (*chore)(void *), void *arg, sv_job **out);
sv_job *sv_rqueue_take_urgent(sv_rqueue *q);
const char *sv_job_domain(const sv_job *j);
unsigned sv_rqueue_begin(sv_rqueue *q, sv_job *j, int64_t *since);
int sv_rqueue_finish(sv_rqueue *q, sv_job *j);
int sv_rqueue_urgent(sv_rqueue *q, const sv_job *j, int queued_too);
size_t sv_rqueue_pending(sv_rqueue *q);
void sv_rqueue_wake(sv_rqueue *q);
void sv_rqueue_stop(sv_rqueue *q);
void sv_rqueue_free(sv_rqueue *q);

/* ------------------------------------------------------------------ */
/* identity list (identity_list.c)                                    */

/* a run's flags beside refresher.h's: only mail waiting for a first answer asked for it */
#define SV_JOB_WAITER 0x100

enum { SV_L_ABSENT, SV_L_PRESENT, SV_L_ENABLED, SV_L_UNAVAILABLE };

typedef struct sv_idlist_env {
	sv_cache *cache;
	sv_ratelimit *rl;
	const int *stop; /* non-zero: shutting down */
	sv_errlog *log;
	const sv_refresh_stats *st;
	/* a record the new list contradicts: ask the API (sv_refresher_enqueue) */
	int (*enqueue)(void *arg, const char *domain, int prio, unsigned flags);
	void *arg;
	/* the fleet's list (sv_refresher_env's shared_list, shared_list_put; NULL: none) */
	int (*shared_list)(void *arg, sv_listed **items, size_t *n, int64_t *fetched_at);
	void (*shared_list_put)(void *arg, const sv_listed *items, size_t n);
	void *shared_arg;
} sv_idlist_env;

typedef struct sv_idlist sv_idlist;

sv_idlist *sv_idlist_new(const sv_idlist_env *env);
int sv_idlist_check(sv_idlist *l, sv_tools *t, const char *domain, int force, int64_t since);
sv_listed *sv_idlist_copy(sv_idlist *l, size_t *n);
void sv_idlist_forget(sv_idlist *l);
void sv_idlist_wake(sv_idlist *l);
void sv_idlist_free(sv_idlist *l);

/* ------------------------------------------------------------------ */
/* refresh rules (refresh_rules.c) and warm-up (warmup.c)             */

typedef struct sv_rules {
	sv_cache *cache;
	sv_ratelimit *rl;
	sv_idlist *list;
	sv_errlog *log;
	const sv_refresh_stats *st;
	const sv_refresher_env *env; /* done and shared_* only (ttl: the hook below) */
	/* one limiter grant for w's next API call; <0 at shutdown */
	int (*grant)(sv_tools *w, uint64_t *ticket);
	/* the TTLs now (they change at reconfigure) */
	sv_cache_ttl (*ttl)(void *arg);
	/* queue a job (sv_refresher_enqueue) */
	int (*enqueue)(void *arg, const char *domain, int prio, unsigned flags);
	void *arg;
} sv_rules;

void sv_refresh_process(const sv_rules *r, sv_tools *w, const char *domain, unsigned flags,
                        int64_t since);
void sv_refresh_store(const sv_rules *r, const char *domain, sv_cache_rec *rec);
void sv_warm_up(const sv_rules *r, sv_tools *w);

#endif
