/*
 * answers-test.c - lib/redis_answers.c against the real redis-server whose
 *	URL is argv[1] (tests/redis/test-redis-answers.sh starts it): a record
 *	written by one connection ("host A") is read back by another ("host
 *	B") with the same fields, and a subscriber hears of it; an older
 *	answer does not replace a newer one; garbage records are refused with
 *	a reason; the refresh lease is exclusive, released only by its owner
 *	and expires by itself.  Prints TAP.
 */
#include "config.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "redis.h"
#include "tap.h"

static char logged[2048];

/* on_log - keep the last library log line */
static void on_log(int level, const char *message, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(logged, sizeof(logged), "%s", message);
}

/* raw - run a command on r, discard the answer */
static void raw(sv_redis *r, int argc, const char **argv)
{
	freeReplyObject(sv_redis_command(r, argc, argv, NULL));
}

int main(int argc, char **argv)
{
	sv_redis_url url;
	sv_redis *a, *b;
	sv_cache_rec rec, got;
	sv_attr attrs[2];
	char err[300];
	int64_t now = sv_cache_now_ms();
	redisContext *sub;
	redisReply *rep;

	if (argc != 2 || sv_redis_url_parse(argv[1], &url, err, sizeof(err)) < 0) {
		fprintf(stderr, "usage: answers-test URL\n");
		return 2;
	}
	sv_log_set_handler(on_log, NULL, SV_LOG_DEBUG);
	a = sv_redis_new(&url, 2000);
	b = sv_redis_new(&url, 2000);
	sub = redisConnectUnix(url.path);
	ok(sub && !sub->err, "subscriber connected");
	rep = redisCommand(sub, "SUBSCRIBE t:answers");
	freeReplyObject(rep);

	memset(&rec, 0, sizeof(rec));
	rec.state = SV_STATE_UNVERIFIED;
	rec.flags = SV_REC_LISTED | SV_REC_REFRESHING;
	rec.fetched_at = now;
	rec.expires_at = now + 300000;
	rec.api_checked_at = now;
	rec.failures = 0;
	snprintf(rec.request_id, sizeof(rec.request_id), "req-0001");
	memset(attrs, 0, sizeof(attrs));
	snprintf(attrs[0].type, sizeof(attrs[0].type), "TXT");
	attrs[0].send_domain = "example.test";
	attrs[0].expected = "v=spf1 include:qcloudmail.com ~all";
	attrs[0].current = "";
	attrs[0].status = false;
	snprintf(attrs[1].type, sizeof(attrs[1].type), "MX");
	attrs[1].send_domain = "example.test";
	attrs[1].expected = "mxbiz1.qq.com";
	attrs[1].current = "mx.example.test";
	attrs[1].status = true;
	rec.attrs = attrs;
	rec.nattrs = 2;

	is_int(sv_redis_answer_get(b, "t:", "example.test", &got), 0, "unknown domain: absent");
	is_int(sv_redis_answer_put(a, "t:", "example.test", &rec, 60000, "mta1"), 1,
	       "host A stores its answer");
	rep = NULL;
	ok(redisGetReply(sub, (void **)&rep) == REDIS_OK && rep && rep->type == REDIS_REPLY_ARRAY &&
	       rep->elements == 3 && strcmp(rep->element[2]->str, "example.test") == 0,
	   "a subscriber hears the domain on PREFIX answers");
	freeReplyObject(rep);
	is_int(sv_redis_answer_get(b, "t:", "example.test", &got), 1, "host B reads it");
	is_int(got.state, SV_STATE_UNVERIFIED, "  state");
	is_int(got.flags, SV_REC_LISTED, "  the persistent flags only (not REFRESHING)");
	ok(llabs(got.fetched_at - now) <= 5 && llabs(got.expires_at - (now + 300000)) <= 5 &&
	       llabs(got.api_checked_at - now) <= 5,
	   "  times on this host's clock (within 5 ms)");
	is_str(got.request_id, "req-0001", "  request id");
	is_int(got.nattrs, 2, "  two attributes");
	if (got.nattrs == 2) {
		is_str(got.attrs[0].type, "TXT", "  attribute 1 type");
		is_str(got.attrs[0].expected, "v=spf1 include:qcloudmail.com ~all",
		       "  attribute 1 expected");
		is_str(got.attrs[0].current, "", "  attribute 1 current (empty)");
		ok(!got.attrs[0].status && got.attrs[1].status, "  statuses");
		is_str(got.attrs[1].current, "mx.example.test", "  attribute 2 current");
	}
	sv_cache_rec_clear(&got);
	{
		const char *ttl[2] = {"PTTL", "t:d:example.test"};
		rep = sv_redis_command(b, 2, ttl, NULL);
		ok(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 50000 &&
		       rep->integer <= 60000,
		   "the record expires after keep_ms");
		freeReplyObject(rep);
	}

	/* an older answer (another host was slower) does not replace it */
	rec.fetched_at = now - 1000;
	rec.state = SV_STATE_VERIFIED;
	is_int(sv_redis_answer_put(a, "t:", "example.test", &rec, 60000, "mta2"), 0,
	       "an older answer is not stored");
	sv_redis_answer_get(b, "t:", "example.test", &got);
	is_int(got.state, SV_STATE_UNVERIFIED, "  the newer one stays");
	sv_cache_rec_clear(&got);

	/* garbage */
	{
		const char *g1[] = {"HSET",  "t:d:bad1.test", "v",       "1",
		                    "state", "verified",      "fetched", "x"};
		const char *g2[] = {"SET", "t:d:bad2.test", "hello"};
		const char *g3[] = {"HSET", "t:d:bad3.test", "v", "7"};
		const char *g4[] = {"HSET",
		                    "t:d:bad4.test",
		                    "v",
		                    "1",
		                    "state",
		                    "verified",
		                    "fetched",
		                    "1",
		                    "expires",
		                    "2",
		                    "checked",
		                    "0",
		                    "flags",
		                    "0",
		                    "failures",
		                    "0",
		                    "request_id",
		                    "r",
		                    "error_code",
		                    "",
		                    "error_message",
		                    "",
		                    "nattrs",
		                    "1",
		                    "a0",
		                    "TXT\x1fonly-two"};
		raw(a, 8, g1);
		raw(a, 3, g2);
		raw(a, 4, g3);
		raw(a, 26, g4);
	}
	logged[0] = 0;
	is_int(sv_redis_answer_get(b, "t:", "bad1.test", &got), -1, "garbage time: refused");
	ok(strstr(logged, "t:d:bad1.test is unusable (bad fetched)") != NULL, "  logged: %s",
	   logged);
	ok(got.attrs == NULL && got.error_message == NULL, "  nothing left in rec");
	is_int(sv_redis_answer_get(b, "t:", "bad2.test", &got), -1,
	       "a string, not a hash: refused");
	ok(strstr(logged, "t:d:bad2.test is not a hash") != NULL, "  logged: %s", logged);
	is_int(sv_redis_answer_get(b, "t:", "bad3.test", &got), -1, "unknown version: refused");
	is_int(sv_redis_answer_get(b, "t:", "bad4.test", &got), -1, "a broken attribute: refused");
	ok(strstr(logged, "bad attribute") != NULL, "  logged: %s", logged);
	ok(sv_redis_up(b), "Redis still counts as up after garbage");

	/* the refresh lease */
	is_int(sv_redis_lease_take(a, "t:", "l.test", "A", 1500), 1, "A takes the refresh lease");
	is_int(sv_redis_lease_take(b, "t:", "l.test", "B", 1500), 0, "B cannot");
	is_int(sv_redis_lease_release(b, "t:", "l.test", "B"), 0, "B cannot release A's lease");
	is_int(sv_redis_lease_take(b, "t:", "l.test", "B", 1500), 0, "  still A's");
	is_int(sv_redis_lease_release(a, "t:", "l.test", "A"), 1, "A releases it");
	is_int(sv_redis_lease_take(b, "t:", "l.test", "B", 300), 1, "then B takes it (300 ms)");
	usleep(600000);
	is_int(sv_redis_lease_take(a, "t:", "l.test", "A", 300), 1,
	       "B died holding it: A takes it after it expired");

	redisFree(sub);
	sv_redis_free(a);
	sv_redis_free(b);
	sv_redis_url_clear(&url);
	return tap_done();
}
