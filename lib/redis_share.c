/*
 * redis_share.c - what an engine with Redis set holds: the connection and
 *	the account's shared budget, plugged into its local limiter (see
 *	redis.h).  Without hiredis it only says why it cannot.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cache.h"
#include "credentials.h"
#include "log.h"
#include "ratelimit.h"
#include "redis.h"
#include "stats.h"

#ifdef HAVE_HIREDIS
struct sv_shared {
	sv_redis *r;
	sv_redis_rl *rl;
	char *prefix;
	int64_t max_stale; /* ms a record stays in Redis after it expired */
	char host[256];    /* who asked SES, stored with each answer */
	uint64_t *st_used, *st_put;
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
	sv_redis_url_clear(&url);
	if ((sh->prefix = strdup(cfg->redis_prefix ? cfg->redis_prefix : "sesverify:")) == NULL) {
		sv_shared_free(sh);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sh->max_stale = cfg->max_stale;
	if (gethostname(sh->host, sizeof(sh->host) - 1) < 0)
		snprintf(sh->host, sizeof(sh->host), "?");
	sh->st_used = sv_stat_counter("redis.answers.used");
	sh->st_put = sv_stat_counter("redis.answers.stored");
	ops = (sv_rl_shared){sh_try, sh_done, sh_penalize, sh_set_rate, sh};
	sv_ratelimit_set_shared(rl, &ops,
	                        cfg->redis_down_api_rate > 0 ? cfg->redis_down_api_rate : 5);
	sv_log(SV_LOG_INFO, "redis: the API budget (%d/s) is shared as %srl:%s", cfg->api_rate,
	       cfg->redis_prefix ? cfg->redis_prefix : "sesverify:", key);
	return sh;
}

/* sv_shared_free - close (the limiter must no longer use it) */
void sv_shared_free(sv_shared *sh)
{
	if (sh == NULL)
		return;
	sv_redis_rl_free(sh->rl);
	sv_redis_free(sh->r);
	free(sh->prefix);
	free(sh);
}

/* sv_shared_answer_get - refresher hook: another host's newer, fresh answer (1) */
int sv_shared_answer_get(void *arg, const char *domain, const sv_cache_rec *local,
                         sv_cache_rec *out)
{
	sv_shared *sh = arg;
	int64_t now = sv_cache_now_ms();

	if (sv_redis_answer_get(sh->r, sh->prefix, domain, out) != 1)
		return 0;
	if ((out->state == SV_STATE_VERIFIED || out->state == SV_STATE_UNVERIFIED ||
	     out->state == SV_STATE_NOT_EXIST) &&
	    out->api_checked_at > local->api_checked_at && out->expires_at > now) {
		sv_stat_inc(sh->st_used, 1);
		sv_log(SV_LOG_DEBUG, "%s: answered by another host through Redis (%s)", domain,
		       sv_state_name(out->state));
		return 1;
	}
	sv_cache_rec_clear(out);
	return 0;
}

/* sv_shared_answer_put - refresher hook: a fresh API answer for the other hosts */
void sv_shared_answer_put(void *arg, const char *domain, const sv_cache_rec *rec)
{
	sv_shared *sh = arg;
	int64_t keep = rec->expires_at - sv_cache_now_ms() + sh->max_stale;

	if (sv_redis_answer_put(sh->r, sh->prefix, domain, rec, keep > 1000 ? keep : 1000,
	                        sh->host) == 1)
		sv_stat_inc(sh->st_put, 1);
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

int sv_shared_up(sv_shared *sh)
{
	(void)sh;
	return 0;
}
#endif
