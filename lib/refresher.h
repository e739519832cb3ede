/*
 * NAME
 *	refresher 3h - worker threads that keep the cache right
 * SYNOPSIS
 *	#include "refresher.h"
 *
 *	sv_refresher *sv_refresher_new(const sv_refresher_env *env, char *err, size_t errlen);
 *	int  sv_refresher_start(sv_refresher *r, int warm_up);
 *	int  sv_refresher_enqueue(sv_refresher *r, const char *domain, int prio, unsigned flags);
 *	void sv_refresher_want_list(sv_refresher *r);
 *	void sv_refresher_forget_list(sv_refresher *r);
 *	int  sv_refresher_reconfigure(sv_refresher *r, const sv_config *cfg,
 *				      const sv_cache_ttl *ttl);
 *	size_t sv_refresher_pending(sv_refresher *r);
 *	void sv_refresher_stop(sv_refresher *r);
 *	void sv_refresher_free(sv_refresher *r);
 * DESCRIPTION
 *	Each worker owns one sv_client and one sv_resolver.  Work comes from
 *	three FIFO queues: SV_PRIO_UNKNOWN (never-seen domains, mail
 *	waiting), SV_PRIO_EXPIRED, SV_PRIO_AHEAD (proactive).  A domain is in
 *	at most one job (single-flight): enqueueing a queued domain raises
 *	its priority (mail waiting for a domain queued by the warm-up moves
 *	it to SV_PRIO_UNKNOWN), enqueueing one in flight makes it run once
 *	more after, unless it is only a waiter's SV_PRIO_UNKNOWN request (the
 *	run in flight answers it).
 *
 *	For each job the rules of DESIGN.md apply, cheapest first:
 *	- verified/unverified answers: the DNS pre-check runs; NXDOMAIN makes
 *	  not_exist (error code SV_ECODE_NXDOMAIN); "DNS still matches"
 *	  (verified) or "a record SES reported as failing is still missing or
 *	  wrong as SES saw it" (unverified: only the Status-false records are
 *	  judged) extends the answer up to MaxApiAge without an API call
 *	  (api.saved.precheck); anything else calls the API.
 *	- never-seen, not_exist and error entries: the account's identity
 *	  list decides existence (fetched single-flight when older than a
 *	  minute; absent means not_exist, api.saved.list); a listed domain
 *	  gets an existence pre-check (NXDOMAIN: not_exist) and then one
 *	  UpdateEmailIdentity to learn its attributes.
 *	- SV_JOB_FORCE skips pre-check and list: one API call now.
 *	Every API call first takes a token from the process-wide limiter.
 *	RequestLimitExceeded/LimitExceeded penalize the limiter and retry
 *	(three attempts); other failures go through the serve-stale rules of
 *	cache.h; configuration/auth errors are logged at most once a minute.
 *
 *	The env's done callback runs after each job's result is stored.
 */
#ifndef SV_REFRESHER_H
#define SV_REFRESHER_H

#include "cache.h"
#include "ratelimit.h"
#include "sesverify.h"

enum { SV_PRIO_UNKNOWN = 0, SV_PRIO_EXPIRED, SV_PRIO_AHEAD, SV_PRIO_N };

#define SV_JOB_FORCE 0x1

typedef struct sv_refresher_env {
	sv_cache *cache;
	sv_ratelimit *rl;
	const sv_config *cfg; /* must outlive the refresher or the next reconfigure */
	sv_cache_ttl ttl;
	int workers;
	size_t max_jobs;
	void (*done)(const char *domain, void *arg);
	void *done_arg;
	/*
	 * Shared answers (Redis; NULL: none).  shared_get returns 1 and fills
	 * out with another host's answer newer than local and still fresh (the
	 * job then needs no API call), else 0; shared_put offers a fresh API
	 * answer to the other hosts.  Both run in the refresher's workers,
	 * never on the mail path.
	 */
	int (*shared_get)(void *arg, const char *domain, const sv_cache_rec *local,
	                  sv_cache_rec *out);
	void (*shared_put)(void *arg, const char *domain, const sv_cache_rec *rec);
	/*
	 * One refresh per domain for the fleet: shared_lease runs before an
	 * API call; 0 this host may ask (shared_unlease after its answer is
	 * stored), 1 another host asked meanwhile (out holds its answer: no
	 * call), -1 no lease (ask all the same).  shared_list runs before
	 * ListEmailIdentities: 1 another host's fresh list (items, fetched_at
	 * on sv_cache_now_ms's clock), 0 fetch it, then shared_list_put
	 * (items NULL when the fetch failed).
	 */
	int (*shared_lease)(void *arg, const char *domain, const sv_cache_rec *local,
	                    sv_cache_rec *out);
	void (*shared_unlease)(void *arg, const char *domain);
	int (*shared_list)(void *arg, sv_listed **items, size_t *n, int64_t *fetched_at);
	void (*shared_list_put)(void *arg, const sv_listed *items, size_t n);
	void *shared_arg;
} sv_refresher_env;

typedef struct sv_refresher sv_refresher;

sv_refresher *sv_refresher_new(const sv_refresher_env *env, char *err, size_t errlen);
int sv_refresher_start(sv_refresher *r, int warm_up);
int sv_refresher_enqueue(sv_refresher *r, const char *domain, int prio, unsigned flags);
void sv_refresher_want_list(sv_refresher *r);
void sv_refresher_forget_list(sv_refresher *r);
int sv_refresher_reconfigure(sv_refresher *r, const sv_config *cfg, const sv_cache_ttl *ttl);
size_t sv_refresher_pending(sv_refresher *r);
void sv_refresher_stop(sv_refresher *r);
void sv_refresher_free(sv_refresher *r);

#endif
