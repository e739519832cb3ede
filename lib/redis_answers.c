/*
 * redis_answers.c - the fleet's answers in Redis: one hash per domain,
 *	published to the other hosts when written, and the per-domain
 *	refresh lease (see redis.h).  Built only with hiredis; used by
 *	redis_share.c, tested against a real redis-server
 *	(tests/redis/test-redis-answers.sh).
 */
#include "config.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "log.h"
#include "redis.h"

#define SEP '\x1f' /* between the parts of one attribute */

/*
 * put: KEYS[1] the record; ARGV[1] TTL ms, [2] channel, [3] domain,
 * [4] fetched (wall ms), then field/value pairs.  A record that is newer
 * in Redis stays (0); else replaced, published, 1.
 */
static sv_redis_script put_script = {
    "local old = tonumber(redis.call('HGET', KEYS[1], 'fetched'))\n"
    "if old and old > tonumber(ARGV[4]) then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 5))\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "redis.call('PUBLISH', ARGV[2], ARGV[3])\n"
    "return 1\n",
    ""};

/* release: compare-and-delete, only the owner's lease */
static sv_redis_script release_script = {
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n",
    ""};

/* renew: compare-and-pexpire, only the owner's lease */
static sv_redis_script renew_script = {
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], "
    "ARGV[2]) end\n"
    "return 0\n",
    ""};

/* wall_offset - wall-clock ms minus this host's monotonic ms (sv_cache_now_ms) */
static int64_t wall_offset(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - sv_cache_now_ms();
}

/* key_of - PREFIX TAG DOMAIN */
static int key_of(char *out, size_t len, const char *prefix, const char *tag, const char *domain)
{
	return snprintf(out, len, "%s%s%s", prefix, tag, domain) < (int)len ? 0 : -1;
}

/* sv_redis_answer_put - see redis.h */
int sv_redis_answer_put(sv_redis *r, const char *prefix, const char *domain,
                        const sv_cache_rec *rec, int64_t keep_ms, const char *host)
{
	char key[600], chan[200], ttl[24], fetched[24], expires[24], checked[24], flags[16],
	    fail[16], nattrs[16], names[SV_ATTR_MAX][24];
	char *attrs[SV_ATTR_MAX] = {0};
	const char *argv[5 + 2 * 12 + 2 * SV_ATTR_MAX];
	size_t n = 0, i;
	int64_t off = wall_offset();
	redisReply *rep;
	int rc = -1;

	if (rec->nattrs > SV_ATTR_MAX || key_of(key, sizeof(key), prefix, "d:", domain) < 0 ||
	    key_of(chan, sizeof(chan), prefix, "answers", "") < 0)
		return -1;
	for (i = 0; i < rec->nattrs; i++) {
		const sv_attr *a = &rec->attrs[i];
		if (strchr(a->send_domain, SEP) || strchr(a->expected, SEP) ||
		    strchr(a->current, SEP) || strchr(a->type, SEP)) {
			sv_log(SV_LOG_WARNING,
			       "redis: %s: an attribute holds byte 0x1f, not shared", domain);
			goto out;
		}
		if (asprintf(&attrs[i], "%s%c%s%c%s%c%s%c%d", a->type, SEP, a->send_domain, SEP,
		             a->expected, SEP, a->current, SEP, a->status ? 1 : 0) < 0) {
			attrs[i] = NULL;
			goto out;
		}
		snprintf(names[i], sizeof(names[i]), "a%zu", i);
	}
	snprintf(ttl, sizeof(ttl), "%lld", (long long)(keep_ms > 0 ? keep_ms : 1));
	snprintf(fetched, sizeof(fetched), "%lld", (long long)(rec->fetched_at + off));
	snprintf(expires, sizeof(expires), "%lld", (long long)(rec->expires_at + off));
	snprintf(checked, sizeof(checked), "%lld",
	         (long long)(rec->api_checked_at ? rec->api_checked_at + off : 0));
	snprintf(flags, sizeof(flags), "%u", rec->flags & SV_REC_PERSIST_MASK);
	snprintf(fail, sizeof(fail), "%u", rec->failures);
	snprintf(nattrs, sizeof(nattrs), "%zu", rec->nattrs);
	argv[n++] = key;
	argv[n++] = ttl;
	argv[n++] = chan;
	argv[n++] = domain;
	argv[n++] = fetched;
#define PAIR(f, v) (argv[n++] = (f), argv[n++] = (v))
	PAIR("v", "1");
	PAIR("state", sv_state_name(rec->state));
	PAIR("fetched", fetched);
	PAIR("expires", expires);
	PAIR("checked", checked);
	PAIR("flags", flags);
	PAIR("failures", fail);
	PAIR("request_id", rec->request_id);
	PAIR("error_code", rec->error_code);
	PAIR("error_message", rec->error_message ? rec->error_message : "");
	PAIR("host", host ? host : "");
	PAIR("nattrs", nattrs);
	for (i = 0; i < rec->nattrs; i++)
		PAIR(names[i], attrs[i]);
#undef PAIR
	rep = sv_redis_eval(r, &put_script, 1, (int)n, argv, NULL);
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		rc = (int)rep->integer;
	else if (rep)
		sv_log(SV_LOG_ERR, "redis: storing the answer for %s failed: %.*s", domain,
		       rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 16,
		       rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
	freeReplyObject(rep);
out:
	for (i = 0; i < SV_ATTR_MAX; i++)
		free(attrs[i]);
	return rc;
}

/* num - a whole decimal field (sign allowed); 0 or -1 */
static int num(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == 0)
		return -1;
	v = strtoll(s, &end, 10);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* decode_attr - "TYPE^SEND^EXPECTED^CURRENT^STATUS" */
static int decode_attr(const char *s, sv_attr *a)
{
	const char *p[5];
	size_t len[5];
	int k = 0;

	p[0] = s;
	for (const char *q = s;; q++) {
		if (*q == SEP || *q == 0) {
			len[k] = (size_t)(q - p[k]);
			if (*q == 0 || ++k == 5)
				break;
			p[k] = q + 1;
		}
	}
	if (k != 4 || len[0] == 0 || len[0] >= sizeof(a->type) || len[4] != 1 ||
	    (p[4][0] != '0' && p[4][0] != '1'))
		return -1;
	memcpy(a->type, p[0], len[0]);
	a->type[len[0]] = 0;
	a->send_domain = strndup(p[1], len[1]);
	a->expected = strndup(p[2], len[2]);
	a->current = strndup(p[3], len[3]);
	a->status = p[4][0] == '1';
	return a->send_domain && a->expected && a->current ? 0 : -1;
}

/* field - the value of name in an HGETALL answer, or NULL */
static const char *field(const redisReply *rep, const char *name)
{
	for (size_t i = 0; i + 1 < rep->elements; i += 2)
		if (rep->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(rep->element[i]->str, name) == 0)
			return rep->element[i + 1]->type == REDIS_REPLY_STRING
			           ? rep->element[i + 1]->str
			           : NULL;
	return NULL;
}

/* decode - an HGETALL answer into rec; NULL or the reason */
static const char *decode(const redisReply *rep, sv_cache_rec *rec)
{
	const char *v, *why;
	int64_t x, off = wall_offset(), nattrs;
	char name[24];

	if ((v = field(rep, "v")) == NULL || strcmp(v, "1") != 0)
		return "unknown format version";
	if (sv_state_parse(field(rep, "state") ? field(rep, "state") : "", &rec->state) < 0)
		return "bad state";
	if (num(field(rep, "fetched"), &x) < 0)
		return "bad fetched";
	rec->fetched_at = x - off;
	if (num(field(rep, "expires"), &x) < 0)
		return "bad expires";
	rec->expires_at = x - off;
	if (num(field(rep, "checked"), &x) < 0)
		return "bad checked";
	rec->api_checked_at = x ? x - off : 0;
	if (num(field(rep, "flags"), &x) < 0 || (x & ~(int64_t)SV_REC_PERSIST_MASK))
		return "bad flags";
	rec->flags = (unsigned)x;
	if (num(field(rep, "failures"), &x) < 0 || x < 0 || x > 1000000)
		return "bad failures";
	rec->failures = (unsigned)x;
	if ((v = field(rep, "request_id")) == NULL || strlen(v) >= sizeof(rec->request_id))
		return "bad request_id";
	memcpy(rec->request_id, v, strlen(v) + 1);
	if ((v = field(rep, "error_code")) == NULL || strlen(v) >= sizeof(rec->error_code))
		return "bad error_code";
	memcpy(rec->error_code, v, strlen(v) + 1);
	if ((v = field(rep, "error_message")) == NULL)
		return "bad error_message";
	if (*v && (rec->error_message = strdup(v)) == NULL)
		return "out of memory";
	if (num(field(rep, "nattrs"), &nattrs) < 0 || nattrs < 0 || nattrs > SV_ATTR_MAX)
		return "bad nattrs";
	if (nattrs && (rec->attrs = calloc((size_t)nattrs, sizeof(*rec->attrs))) == NULL)
		return "out of memory";
	for (int64_t i = 0; i < nattrs; i++) {
		snprintf(name, sizeof(name), "a%lld", (long long)i);
		rec->nattrs = (size_t)i + 1;
		if ((v = field(rep, name)) == NULL || decode_attr(v, &rec->attrs[i]) < 0)
			return "bad attribute";
	}
	/* times from another host's clock may lie before this host's start */
	if (rec->fetched_at < 0)
		rec->fetched_at = 0;
	if (rec->expires_at < 0)
		rec->expires_at = 0;
	if (rec->api_checked_at < 0)
		rec->api_checked_at = 0;
	if (sv_cache_rec_valid(rec, &why) < 0)
		return why;
	return NULL;
}

/*
 * sv_redis_answer_read - sv_redis_answer_get without the log line: an
 *	unusable record (-1) leaves its reason in why, Redis unreachable
 *	leaves why empty
 */
int sv_redis_answer_read(sv_redis *r, const char *prefix, const char *domain, sv_cache_rec *rec,
                         char *why, size_t whylen)
{
	char key[600];
	const char *argv[2] = {"HGETALL", key}, *bad;
	redisReply *rep;

	memset(rec, 0, sizeof(*rec));
	why[0] = 0;
	if (key_of(key, sizeof(key), prefix, "d:", domain) < 0 ||
	    (rep = sv_redis_command(r, 2, argv, NULL)) == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY) {
		snprintf(why, whylen, "the shared record %s is not a hash: %.*s", key,
		         rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 0,
		         rep->type == REDIS_REPLY_ERROR ? rep->str : "");
		freeReplyObject(rep);
		return -1;
	}
	if (rep->elements == 0) {
		freeReplyObject(rep);
		return 0;
	}
	if ((bad = decode(rep, rec)) != NULL) {
		snprintf(why, whylen, "the shared record %s is unusable (%s); ignored", key, bad);
		sv_cache_rec_clear(rec);
		freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 1;
}

/* sv_redis_answer_get - see redis.h */
int sv_redis_answer_get(sv_redis *r, const char *prefix, const char *domain, sv_cache_rec *rec)
{
	char why[800];
	int rc = sv_redis_answer_read(r, prefix, domain, rec, why, sizeof(why));

	if (rc < 0 && why[0])
		sv_log(SV_LOG_ERR, "redis: %s", why);
	return rc;
}

/* sv_redis_lease_take - SET PREFIX"lease:"DOMAIN owner PX ms NX: 1 taken, 0 held, -1 */
int sv_redis_lease_take(sv_redis *r, const char *prefix, const char *domain, const char *owner,
                        int64_t ms)
{
	char key[600], px[24];
	const char *argv[6] = {"SET", key, owner, "PX", px, "NX"};
	redisReply *rep;
	int rc = -1;

	if (key_of(key, sizeof(key), prefix, "lease:", domain) < 0)
		return -1;
	snprintf(px, sizeof(px), "%lld", (long long)(ms > 0 ? ms : 1));
	if ((rep = sv_redis_command(r, 6, argv, NULL)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0)
		rc = 1;
	else if (rep->type == REDIS_REPLY_NIL)
		rc = 0;
	freeReplyObject(rep);
	return rc;
}

/* sv_redis_lease_release - delete the lease only if owner holds it: 1, 0, -1 */
int sv_redis_lease_release(sv_redis *r, const char *prefix, const char *domain, const char *owner)
{
	char key[600];
	const char *argv[2] = {key, owner};
	redisReply *rep;
	int rc = -1;

	if (key_of(key, sizeof(key), prefix, "lease:", domain) < 0)
		return -1;
	rep = sv_redis_eval(r, &release_script, 1, 2, argv, NULL);
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		rc = rep->integer > 0;
	freeReplyObject(rep);
	return rc;
}

/* sv_redis_lease_renew - owner's lease lives ms from now: 1, 0 not (any more) owner's, -1 */
int sv_redis_lease_renew(sv_redis *r, const char *prefix, const char *domain, const char *owner,
                         int64_t ms)
{
	char key[600], px[24];
	const char *argv[3] = {key, owner, px};
	redisReply *rep;
	int rc = -1;

	if (key_of(key, sizeof(key), prefix, "lease:", domain) < 0)
		return -1;
	snprintf(px, sizeof(px), "%lld", (long long)(ms > 0 ? ms : 1));
	rep = sv_redis_eval(r, &renew_script, 1, 3, argv, NULL);
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		rc = rep->integer > 0;
	freeReplyObject(rep);
	return rc;
}
