/*
 * cache.c - front of the verification cache (see cache.h).
 *	Owns the record type, TTL and serve-stale rules, view filling and
 *	the dispatch to a storage backend.  It does not store anything
 *	itself (cache_mem.c does), does no I/O and decides no refresh order
 *	(refresher.c does).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "stats.h"

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)

struct sv_cache {
	const sv_cache_backend *be;
	void *h;
};

/* ms_of - a clock in milliseconds */
static int64_t ms_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_base; /* wall minus monotonic ms at the first call */
static pthread_once_t mono_once = PTHREAD_ONCE_INIT;

/* set_base - fix the offset once per process */
static void set_base(void)
{
	mono_base = ms_of(CLOCK_REALTIME) - ms_of(CLOCK_MONOTONIC);
}

/*
 * sv_cache_now_ms - the cache clock: CLOCK_MONOTONIC in ms, offset once so
 *	that at start it reads like Unix ms.  A step of the wall clock does not
 *	move it, so no TTL, backoff or timer stretches or shrinks; wall time
 *	only enters through sv_cache_wall_shift (CacheFile, displayed times).
 */
int64_t sv_cache_now_ms(void)
{
	pthread_once(&mono_once, set_base);
	return mono_base + ms_of(CLOCK_MONOTONIC);
}

/* sv_cache_wall_shift - add to a cache-clock time to get Unix ms (wall) now */
int64_t sv_cache_wall_shift(void)
{
	int64_t wall = ms_of(CLOCK_REALTIME);

	return wall - sv_cache_now_ms();
}

/* sv_cache_open - a cache on backend be (NULL: in-memory) */
sv_cache *sv_cache_open(const sv_cache_backend *be, size_t max_entries, char *err, size_t errlen)
{
	sv_cache *c;

	if (be == NULL)
		be = &sv_cache_mem_backend;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->be = be;
	if ((c->h = be->open(max_entries, err, errlen)) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

/* sv_cache_close - release the cache and every record */
void sv_cache_close(sv_cache *c)
{
	if (!c)
		return;
	c->be->close(c->h);
	free(c);
}

/* sv_cache_peek - hot path: copy a record into a view, no allocation */
int sv_cache_peek(sv_cache *c, const char *domain, int64_t now, sv_entry_view *v,
                  sv_cache_rec *meta)
{
	return c->be->peek(c->h, domain, now, v, meta);
}

/* sv_cache_mark - set/clear flags, optionally creating an unknown record */
int sv_cache_mark(sv_cache *c, const char *domain, unsigned set, unsigned clear, int create)
{
	return c->be->mark(c->h, domain, set, clear, create);
}

/* sv_cache_get - deep copy of a record */
int sv_cache_get(sv_cache *c, const char *domain, sv_cache_rec *out)
{
	return c->be->get(c->h, domain, out);
}

/* sv_cache_put - store a deep copy of a validated record */
int sv_cache_put(sv_cache *c, const char *domain, const sv_cache_rec *rec)
{
	const char *why;

	if (sv_cache_rec_valid(rec, &why) < 0)
		return -1;
	return c->be->put(c->h, domain, rec);
}

/* sv_cache_del - drop a record */
int sv_cache_del(sv_cache *c, const char *domain)
{
	return c->be->del(c->h, domain);
}

/* sv_cache_walk - every record, consistent per record */
void sv_cache_walk(sv_cache *c, sv_cache_walk_fn fn, void *arg)
{
	c->be->walk(c->h, fn, arg);
}

/* sv_cache_count - number of records */
size_t sv_cache_count(sv_cache *c)
{
	return c->be->count(c->h);
}

/* ------------------------------------------------------------------ */

/* sv_cache_rec_clear - free what a record owns and zero it */
void sv_cache_rec_clear(sv_cache_rec *r)
{
	free(r->error_message);
	sv_attrs_free(r->attrs, r->nattrs);
	memset(r, 0, sizeof(*r));
}

/* sv_cache_rec_set_attrs - replace the attributes with a deep copy */
int sv_cache_rec_set_attrs(sv_cache_rec *r, const sv_attr *attrs, size_t n)
{
	sv_attr *a = NULL;

	if (n > SV_ATTR_MAX)
		n = SV_ATTR_MAX;
	if (n > 0 && (a = calloc(n, sizeof(*a))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		memcpy(a[i].type, attrs[i].type, sizeof(a[i].type));
		a[i].type[sizeof(a[i].type) - 1] = 0;
		a[i].status = attrs[i].status;
		a[i].send_domain = strdup(attrs[i].send_domain ? attrs[i].send_domain : "");
		a[i].expected = strdup(attrs[i].expected ? attrs[i].expected : "");
		a[i].current = strdup(attrs[i].current ? attrs[i].current : "");
		if (!a[i].send_domain || !a[i].expected || !a[i].current) {
			sv_attrs_free(a, i + 1);
			return -1;
		}
	}
	sv_attrs_free(r->attrs, r->nattrs);
	r->attrs = a;
	r->nattrs = n;
	return 0;
}

/* sv_cache_rec_copy - deep copy src into (cleared) dst */
int sv_cache_rec_copy(sv_cache_rec *dst, const sv_cache_rec *src)
{
	*dst = *src;
	dst->error_message = NULL;
	dst->attrs = NULL;
	dst->nattrs = 0;
	if (src->error_message && (dst->error_message = strdup(src->error_message)) == NULL)
		goto err;
	if (sv_cache_rec_set_attrs(dst, src->attrs, src->nattrs) < 0)
		goto err;
	return 0;
err:
	sv_cache_rec_clear(dst);
	return -1;
}

/* sv_cache_rec_valid - reject records no code path should produce */
int sv_cache_rec_valid(const sv_cache_rec *r, const char **why)
{
	if ((int)r->state < SV_STATE_UNKNOWN || r->state > SV_STATE_ERROR)
		return (*why = "bad state"), -1;
	if (r->fetched_at < 0 || r->expires_at < 0 || r->api_checked_at < 0 || r->next_try < 0)
		return (*why = "negative time"), -1;
	if (r->nattrs > SV_ATTR_MAX || (r->nattrs > 0 && r->attrs == NULL))
		return (*why = "bad attribute count"), -1;
	if (memchr(r->request_id, 0, sizeof(r->request_id)) == NULL ||
	    memchr(r->error_code, 0, sizeof(r->error_code)) == NULL)
		return (*why = "unterminated string"), -1;
	for (size_t i = 0; i < r->nattrs; i++)
		if (!r->attrs[i].send_domain || !r->attrs[i].expected || !r->attrs[i].current ||
		    memchr(r->attrs[i].type, 0, sizeof(r->attrs[i].type)) == NULL)
			return (*why = "bad attribute"), -1;
	return 0;
}

/* ------------------------------------------------------------------ */

/* pick - v, or def when v is 0 or negative */
static int64_t pick(int64_t v, int64_t def)
{
	return v > 0 ? v : def;
}

/* sv_cache_ttl_init - TTLs from cfg (NULL or 0 fields: DESIGN.md defaults) */
void sv_cache_ttl_init(sv_cache_ttl *t, const sv_config *cfg)
{
	t->verified = pick(cfg ? cfg->verified_ttl : 0, 1 * HOUR);
	t->unverified = pick(cfg ? cfg->unverified_ttl : 0, 5 * MIN);
	t->not_exist = pick(cfg ? cfg->not_exist_ttl : 0, 1 * HOUR);
	t->error = pick(cfg ? cfg->error_ttl : 0, 1 * MIN);
	t->max_api_age = pick(cfg ? cfg->max_api_age : 0, 24 * HOUR);
	/* MaxStale 0 is meaningful (no serve-stale); only a missing config defaults */
	t->max_stale = cfg ? (cfg->max_stale >= 0 ? cfg->max_stale : 0) : 24 * HOUR;
}

/* sv_cache_ttl_for - how long an answer of this state stays fresh */
int64_t sv_cache_ttl_for(const sv_cache_ttl *t, sv_state state)
{
	switch (state) {
	case SV_STATE_VERIFIED:
		return t->verified;
	case SV_STATE_UNVERIFIED:
		return t->unverified;
	case SV_STATE_NOT_EXIST:
		return t->not_exist;
	default:
		return t->error;
	}
}

/* sv_cache_servable - may this record's state still be answered? */
int sv_cache_servable(const sv_cache_rec *r, int64_t now, const sv_cache_ttl *t)
{
	if (r->state == SV_STATE_UNKNOWN)
		return 0;
	return now < r->expires_at + t->max_stale;
}

/*
 * sv_cache_backoff - base * 2^(failures-1), capped, times a jitter in
 *	[0.5, 1.0) taken from rnd so that domains failing together do not
 *	retry together.
 */
int64_t sv_cache_backoff(unsigned failures, int64_t base, unsigned rnd)
{
	int64_t cap = base > 15 * MIN ? base : 15 * MIN;
	int64_t d = base;

	for (unsigned i = 1; i < failures && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	return d / 2 + (int64_t)((double)(d / 2) * (double)(rnd % 1024) / 1024.0);
}

/* set_error - record an error code and message (message may be NULL) */
static void set_error(sv_cache_rec *r, const char *code, const char *msg)
{
	snprintf(r->error_code, sizeof(r->error_code), "%s", code ? code : "");
	free(r->error_message);
	r->error_message = msg && *msg ? strdup(msg) : NULL;
}

/* sv_cache_apply_answer - a verified/unverified/not_exist API answer */
void sv_cache_apply_answer(sv_cache_rec *r, const sv_identity *id, int64_t now,
                           const sv_cache_ttl *t)
{
	r->state = id->state;
	r->fetched_at = now;
	r->api_checked_at = now;
	r->expires_at = now + sv_cache_ttl_for(t, id->state);
	r->failures = 0;
	r->next_try = 0;
	snprintf(r->request_id, sizeof(r->request_id), "%s", id->request_id);
	if (id->state == SV_STATE_NOT_EXIST) {
		set_error(r, id->error_code, id->error_message);
		sv_cache_rec_set_attrs(r, NULL, 0);
		return;
	}
	set_error(r, NULL, NULL);
	if (sv_cache_rec_set_attrs(r, id->attrs, id->nattrs) < 0)
		sv_cache_rec_set_attrs(r, NULL, 0);
}

/* sv_cache_rec_answered - an answer of SES; errors and unknown are not */
int sv_cache_rec_answered(const sv_cache_rec *r)
{
	return r->state == SV_STATE_VERIFIED || r->state == SV_STATE_UNVERIFIED ||
	       r->state == SV_STATE_NOT_EXIST;
}

/*
 * sv_cache_apply_error - a failed refresh (API error, transport, DNS)
 *	Serve-stale: an answered state survives until MaxStale past its
 *	expiry; only then, or without an older answer, does it become error.
 */
void sv_cache_apply_error(sv_cache_rec *r, const sv_identity *id, int64_t now,
                          const sv_cache_ttl *t, unsigned rnd)
{
	int answered = sv_cache_rec_answered(r);

	r->failures++;
	set_error(r, id->error_code[0] ? id->error_code : "Transport.Failed", id->error_message);
	if (id->request_id[0])
		snprintf(r->request_id, sizeof(r->request_id), "%s", id->request_id);
	if (answered && sv_cache_servable(r, now, t)) {
		r->next_try = now + sv_cache_backoff(r->failures, 5 * SEC, rnd);
		return;
	}
	r->state = SV_STATE_ERROR;
	sv_cache_rec_set_attrs(r, NULL, 0);
	r->fetched_at = now;
	r->expires_at = now + sv_cache_backoff(r->failures, t->error, rnd);
	r->next_try = r->expires_at;
}

/*
 * sv_cache_apply_extend - the pre-check says an API call cannot change
 *	the answer: keep it for another TTL, but never beyond MaxApiAge
 *	after the last API answer.  -1 when that age is reached.
 */
int sv_cache_apply_extend(sv_cache_rec *r, int64_t now, const sv_cache_ttl *t)
{
	int64_t until, limit;

	if (r->state != SV_STATE_VERIFIED && r->state != SV_STATE_UNVERIFIED)
		return -1;
	if (r->api_checked_at <= 0)
		return -1;
	limit = r->api_checked_at + t->max_api_age;
	until = now + sv_cache_ttl_for(t, r->state);
	if (until > limit)
		until = limit;
	if (until <= now)
		return -1;
	r->fetched_at = now;
	r->expires_at = until;
	r->failures = 0;
	r->next_try = 0;
	set_error(r, NULL, NULL);
	return 0;
}

/* sv_cache_apply_not_exist - not set up (list) or not in DNS: no API call */
void sv_cache_apply_not_exist(sv_cache_rec *r, const char *why, int64_t now, const sv_cache_ttl *t)
{
	r->state = SV_STATE_NOT_EXIST;
	r->fetched_at = now;
	r->expires_at = now + t->not_exist;
	r->failures = 0;
	r->next_try = 0;
	r->request_id[0] = 0;
	set_error(r, NULL, why);
	sv_cache_rec_set_attrs(r, NULL, 0);
}

/* ------------------------------------------------------------------ */

/* sv_cache_shorten - copy src, ending in "..." when it does not fit */
void sv_cache_shorten(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (dstlen == 0)
		return;
	if (n < dstlen) {
		memcpy(dst, src, n + 1);
		return;
	}
	if (dstlen < 4) {
		dst[0] = 0;
		return;
	}
	memcpy(dst, src, dstlen - 4);
	memcpy(dst + dstlen - 4, "...", 4);
}

/* sv_cache_fill_fail - the first failing attribute, for the reject text */
void sv_cache_fill_fail(const sv_attr *attrs, size_t n, sv_entry_view *v)
{
	v->fail_type[0] = v->fail_name[0] = v->fail_expected[0] = v->fail_current[0] = 0;
	v->fail_missing = false;
	for (size_t i = 0; i < n; i++) {
		const sv_attr *a = &attrs[i];
		if (a->status)
			continue;
		snprintf(v->fail_type, sizeof(v->fail_type), "%s", a->type);
		sv_cache_shorten(v->fail_name, sizeof(v->fail_name),
		                 a->send_domain ? a->send_domain : "");
		sv_cache_shorten(v->fail_expected, sizeof(v->fail_expected),
		                 a->expected ? a->expected : "");
		sv_cache_shorten(v->fail_current, sizeof(v->fail_current),
		                 a->current ? a->current : "");
		v->fail_missing = a->current == NULL || a->current[0] == 0;
		return;
	}
}

/* sv_cache_fill_view - the public copy of a record (state not yet aged) */
void sv_cache_fill_view(const sv_cache_rec *r, int64_t now, sv_entry_view *v)
{
	v->state = r->state;
	v->stale = r->state != SV_STATE_UNKNOWN && now >= r->expires_at;
	v->refreshing = (r->flags & SV_REC_REFRESHING) != 0;
	v->fetched_at = (time_t)(r->fetched_at / 1000);
	v->expires_at = (time_t)(r->expires_at / 1000);
	v->api_checked_at = (time_t)(r->api_checked_at / 1000);
	memcpy(v->request_id, r->request_id, sizeof(v->request_id));
	memcpy(v->error_code, r->error_code, sizeof(v->error_code));
	sv_cache_fill_fail(r->attrs, r->nattrs, v);
}
