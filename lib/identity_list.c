/*
 * identity_list.c - the account's identity list as the refresher sees it
 *	(see refresh_int.h): ListEmailIdentities fetched single-flight, its
 *	freshness, the retry backoff after a failed fetch, and what a new
 *	list means for the cache (dropped domains marked, contradicted
 *	records re-checked).
 *	Owns the last list and its timestamps.  It does not decide what a
 *	job does with a domain (refresh_rules.c), does not store answers
 *	(only flags, through sv_cache_mark) and does not pace calls itself
 *	(ratelimit.c, one grant per page).
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

#define LIST_FRESH_MS (60 * 1000) /* a never-seen domain trusts a list this young */
#define LIST_RETRY_MS (60 * 1000) /* after a failed list fetch, per-domain calls */

struct sv_idlist {
	sv_idlist_env env;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	sv_listed *items; /* sorted by name */
	size_t nitems;
	int ok, fetching;
	int64_t fetched_at, attempt_at;
	unsigned failures; /* failed fetches in a row */
	int64_t retry_ms;  /* after a failed fetch: LIST_RETRY_MS with backoff */
};

/* sv_idlist_new - no list yet */
sv_idlist *sv_idlist_new(const sv_idlist_env *env)
{
	sv_idlist *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->env = *env;
	pthread_mutex_init(&l->lock, NULL);
	sv_cond_init_mono(&l->cond);
	l->retry_ms = LIST_RETRY_MS;
	return l;
}

/* sv_idlist_forget - the identity list belongs to another account now */
void sv_idlist_forget(sv_idlist *l)
{
	pthread_mutex_lock(&l->lock);
	free(l->items);
	l->items = NULL;
	l->nitems = 0;
	l->ok = 0;
	l->fetched_at = l->attempt_at = 0;
	pthread_mutex_unlock(&l->lock);
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
static void reconcile(sv_idlist *l, const sv_listed *items, size_t n)
{
	struct recon rc = {items, n, NULL, 0, 0};

	sv_cache_walk(l->env.cache, recon_one, &rc);
	for (size_t i = 0; i < rc.count; i++) {
		l->env.enqueue(l->env.arg, rc.names[i], SV_PRIO_EXPIRED, SV_JOB_FORCE);
		free(rc.names[i]);
	}
	free(rc.names);
}

/*
 * mark_dropped - domains the previous list called enabled and the new one
 *	lacks keep (or get) SV_REC_LISTED|SV_REC_ENABLED on their cache
 *	record, so that refresh_existence confirms their absence with one
 *	UpdateEmailIdentity before calling them not set up.  l->items is
 *	written only by the fetching worker, which calls this.
 */
static void mark_dropped(sv_idlist *l, const sv_listed *items, size_t n)
{
	for (size_t i = 0; i < l->nitems; i++)
		if (l->items[i].sending_enabled && !find_listed(items, n, l->items[i].name))
			sv_cache_mark(l->env.cache, l->items[i].name,
			              SV_REC_LISTED | SV_REC_ENABLED, 0, 1);
}

/*
 * fetch_list - ListEmailIdentities (all pages), caller set fetching
 *	Each page is one API request and takes its own limiter token just
 *	before it is sent (sv_client_list_identities_paced), so ApiRate
 *	holds in every sliding second whatever the size of the account.
 */
static int fetch_list(sv_idlist *l, sv_tools *w)
{
	sv_listed *items = NULL;
	sv_identity err;
	size_t n = 0;
	sv_grant_pace lp;
	sv_pacer pacer;
	int rc = -1;
	int64_t shared_at = 0;

	sv_grant_pacer(&lp, l->env.rl, &pacer);
	memset(&err, 0, sizeof(err));
	if (!w->client) {
		sv_tools_no_client(w, "", &err);
		sv_errlog_config(l->env.log, "ListEmailIdentities", &err);
		goto done;
	}
	if (l->env.shared_list &&
	    l->env.shared_list(l->env.shared_arg, &items, &n, &shared_at) == 1)
		goto got; /* another host fetched it moments ago */
	rc = sv_client_list_identities_paced(w->client, &pacer, &items, &n, &err);
	sv_log(SV_LOG_DEBUG, "identity list: %zu pages, one limiter token each", lp.grants);
	if (rc < 0 && sv_atomic_load(l->env.stop))
		goto done; /* shutting down: the limiter refused the next page */
	if (rc < 0) {
		rc = -1;
		if (err.error_class == SV_ECLASS_RATE_LIMITED) {
			sv_stat_inc(l->env.st->rate_limited, 1);
			sv_ratelimit_penalize(l->env.rl);
		}
		sv_stat_inc(l->env.st->list_errors, 1);
		if (err.error_class == SV_ECLASS_CONFIG)
			sv_errlog_config(l->env.log, "ListEmailIdentities", &err);
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
	if (!shared_at && l->env.shared_list_put)
		l->env.shared_list_put(l->env.shared_arg, items, n);
	sv_log(SV_LOG_INFO, "identity list: %zu sender domains", n);
	mark_dropped(l, items, n);
	reconcile(l, items, n);
	rc = 0;
done:
	if (rc < 0 && l->env.shared_list_put)
		l->env.shared_list_put(l->env.shared_arg, NULL, 0); /* lets the others try */
	pthread_mutex_lock(&l->lock);
	l->attempt_at = sv_cache_now_ms();
	/* a failed fetch is retried with backoff; meanwhile domains are asked one by one */
	l->failures = rc == 0 ? 0 : l->failures + 1;
	l->retry_ms = rc == 0 ? LIST_RETRY_MS
	                      : sv_cache_backoff(l->failures, 2 * LIST_RETRY_MS, sv_tools_rand(w));
	if (rc == 0) {
		free(l->items);
		l->items = items;
		l->nitems = n;
		l->ok = 1;
		l->fetched_at = shared_at ? shared_at : l->attempt_at;
	}
	l->fetching = 0;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	sv_identity_clear(&err);
	return rc;
}

/*
 * sv_idlist_check - existence of domain per the identity list
 *	The list must have been fetched at most a minute before "since" (the
 *	domain's arrival) or after it: a domain queued behind thousands of
 *	others is not a reason to fetch the list again.
 */
int sv_idlist_check(sv_idlist *l, sv_tools *w, const char *domain, int force, int64_t since)
{
	const sv_listed *it;
	int64_t now = sv_cache_now_ms();
	int rc = SV_L_UNAVAILABLE;

	pthread_mutex_lock(&l->lock);
	while (!sv_atomic_load(l->env.stop) &&
	       (force || !l->ok || l->fetched_at < since - LIST_FRESH_MS)) {
		if (l->fetching) {
			struct timespec ts = sv_mono_deadline(1000);
			pthread_cond_timedwait(&l->cond, &l->lock, &ts);
			now = sv_cache_now_ms();
			force = 0;
			continue;
		}
		if (!force && l->attempt_at && now - l->attempt_at < l->retry_ms)
			break;
		l->fetching = 1;
		pthread_mutex_unlock(&l->lock);
		fetch_list(l, w);
		pthread_mutex_lock(&l->lock);
		now = sv_cache_now_ms();
		break;
	}
	if (l->ok && l->fetched_at >= since - LIST_FRESH_MS - 5000) {
		it = find_listed(l->items, l->nitems, domain);
		rc = !it ? SV_L_ABSENT : it->sending_enabled ? SV_L_ENABLED : SV_L_PRESENT;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* sv_idlist_copy - a copy of the last list's items (NULL, *n = 0: none) */
sv_listed *sv_idlist_copy(sv_idlist *l, size_t *n)
{
	sv_listed *items;

	pthread_mutex_lock(&l->lock);
	*n = l->nitems;
	items = *n ? malloc(*n * sizeof(*items)) : NULL;
	if (items)
		memcpy(items, l->items, *n * sizeof(*items));
	else
		*n = 0;
	pthread_mutex_unlock(&l->lock);
	return items;
}

/* sv_idlist_wake - waiters for a fetch in flight look at the stop flag again */
void sv_idlist_wake(sv_idlist *l)
{
	pthread_mutex_lock(&l->lock);
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* sv_idlist_free - release the list */
void sv_idlist_free(sv_idlist *l)
{
	if (!l)
		return;
	free(l->items);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
