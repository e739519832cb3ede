/*
 * refresh_tools.c - what one refresher worker brings to a job (see
 *	refresh_int.h): jitter, the "no API client" answer, and the log of
 *	configuration/auth failures at most once a minute.
 *	Owns no client (refresher.c builds them) and no job.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "refresh_int.h"
#include "stats.h"

#define LOG_EVERY_MS (60 * 1000) /* configuration errors: at most one line a minute */

/* sv_tools_rand - per-worker xorshift64 (jitter only, no security use) */
unsigned sv_tools_rand(sv_tools *t)
{
	t->rnd ^= t->rnd << 13;
	t->rnd ^= t->rnd >> 7;
	t->rnd ^= t->rnd << 17;
	return (unsigned)(t->rnd >> 32);
}

/* sv_tools_no_client - describe why this worker cannot call the API */
void sv_tools_no_client(const sv_tools *t, const char *domain, sv_identity *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->domain, sizeof(id->domain), "%s", domain);
	id->state = SV_STATE_ERROR;
	snprintf(id->error_code, sizeof(id->error_code), "Client.Unavailable");
	id->error_message = strdup(t->client_err[0] ? t->client_err : "API client unavailable");
	id->error_class = SV_ECLASS_CONFIG;
}

/* sv_errlog_init - nothing logged yet; counter counts every failure */
void sv_errlog_init(sv_errlog *l, uint64_t *counter)
{
	pthread_mutex_init(&l->lock, NULL);
	l->last = -LOG_EVERY_MS;
	l->counter = counter;
}

/* sv_errlog_config - log a configuration/auth failure at most once a minute */
void sv_errlog_config(sv_errlog *l, const char *what, const sv_identity *id)
{
	int64_t now = sv_cache_now_ms();
	int say = 0;

	sv_stat_inc(l->counter, 1);
	pthread_mutex_lock(&l->lock);
	if (now - l->last >= LOG_EVERY_MS) {
		l->last = now;
		say = 1;
	}
	pthread_mutex_unlock(&l->lock);
	if (say)
		sv_log(SV_LOG_ERR,
		       "%s: %s%s%s (fix the configuration; further errors of this kind are "
		       "logged once a minute)",
		       what, id->error_code, id->error_message ? ": " : "",
		       id->error_message ? id->error_message : "");
}

/* sv_errlog_destroy - release the lock */
void sv_errlog_destroy(sv_errlog *l)
{
	pthread_mutex_destroy(&l->lock);
}

/* grant_before - a limiter grant for the request about to be sent */
static int grant_before(void *arg)
{
	sv_grant_pace *gp = arg;
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
	sv_grant_pace *gp = arg;

	if (gp->n > 0)
		sv_ratelimit_done(gp->rl, gp->tickets[--gp->n]);
}

/* sv_grant_pacer - p takes one grant of rl per request sent (state in gp) */
void sv_grant_pacer(sv_grant_pace *gp, sv_ratelimit *rl, sv_pacer *p)
{
	*gp = (sv_grant_pace){.rl = rl};
	*p = (sv_pacer){grant_before, grant_after, gp};
}
