/*
 * test_cache.c - cache rules and the in-memory backend: TTLs, the
 *	serve-stale table, pre-check extension and MaxApiAge, backoff, the
 *	reject-text fields, LRU eviction, a threaded smoke test, and the
 *	engine's never-blocking lookup/wait without an API client.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "compat.h"
#include "sesverify.h"
#include "stats.h"
#include "tap.h"

#define S 1000LL
#define M (60 * S)
#define H (60 * M)

static sv_cache_ttl T;

/* answer - an sv_identity of a given state (attrs optional) */
static void answer(sv_identity *id, sv_state st, const char *code, sv_error_class cls)
{
	memset(id, 0, sizeof(*id));
	id->state = st;
	snprintf(id->request_id, sizeof(id->request_id), "req-%d", (int)st);
	if (code)
		snprintf(id->error_code, sizeof(id->error_code), "%s", code);
	id->error_class = cls;
}

static void test_ttls(void)
{
	sv_config *cfg = sv_config_defaults();

	sv_cache_ttl_init(&T, cfg);
	is_int(T.verified, 1 * H, "VerifiedTTL default 1h");
	is_int(T.unverified, 5 * M, "UnverifiedTTL default 5m");
	is_int(T.not_exist, 1 * H, "NotExistTTL default 1h");
	is_int(T.error, 1 * M, "ErrorTTL default 1m");
	is_int(T.max_api_age, 24 * H, "MaxApiAge default 24h");
	is_int(T.max_stale, 24 * H, "MaxStale default 24h");
	cfg->verified_ttl = 10 * S;
	sv_cache_ttl_init(&T, cfg);
	is_int(T.verified, 10 * S, "a configured TTL wins");
	sv_config_free(cfg);
	sv_cache_ttl_init(&T, NULL);
}

static void test_answers(void)
{
	sv_cache_rec r = {0};
	sv_identity id;
	sv_attr a[2] = {{"TXT", "x.test", "v=spf1", "v=spf1", true},
	                {"TXT", "qcloud._domainkey.x.test", "v=DKIM1; p=abc", "", false}};
	int64_t now = 1700000000000LL;

	answer(&id, SV_STATE_VERIFIED, NULL, SV_ECLASS_NONE);
	sv_cache_apply_answer(&r, &id, now, &T);
	ok(r.state == SV_STATE_VERIFIED && r.expires_at == now + H && r.api_checked_at == now,
	   "verified answer: fresh for VerifiedTTL");
	is_str(r.request_id, "req-1", "request id kept");
	answer(&id, SV_STATE_UNVERIFIED, NULL, SV_ECLASS_NONE);
	id.attrs = a;
	id.nattrs = 2;
	sv_cache_apply_answer(&r, &id, now, &T);
	ok(r.state == SV_STATE_UNVERIFIED && r.expires_at == now + 5 * M && r.nattrs == 2,
	   "unverified answer: attributes kept, UnverifiedTTL");
	answer(&id, SV_STATE_NOT_EXIST, "InvalidParameterValue.NotExistDomain",
	       SV_ECLASS_NOT_EXIST);
	sv_cache_apply_answer(&r, &id, now, &T);
	ok(r.state == SV_STATE_NOT_EXIST && r.expires_at == now + H && r.nattrs == 0,
	   "NotExistDomain: not_exist for NotExistTTL");
	is_str(r.error_code, "InvalidParameterValue.NotExistDomain", "its code is shown");
	sv_cache_rec_clear(&r);
}

/* the serve-stale table: (old state, outage time) -> state after a failed refresh */
static void test_serve_stale(void)
{
	static const struct {
		sv_state old;
		int64_t since_expiry; /* when the refresh fails, relative to old expiry */
		sv_state want;
		const char *why;
	} rows[] = {
	    {SV_STATE_VERIFIED, 1 * M, SV_STATE_VERIFIED,
	     "verified not rejected because the API is down"},
	    {SV_STATE_VERIFIED, 23 * H, SV_STATE_VERIFIED, "verified served stale until MaxStale"},
	    {SV_STATE_VERIFIED, 25 * H, SV_STATE_ERROR, "verified past MaxStale becomes error"},
	    {SV_STATE_UNVERIFIED, 1 * M, SV_STATE_UNVERIFIED,
	     "unverified never becomes verified by staleness"},
	    {SV_STATE_UNVERIFIED, 25 * H, SV_STATE_ERROR,
	     "unverified past MaxStale: error, not verified"},
	    {SV_STATE_NOT_EXIST, 1 * M, SV_STATE_NOT_EXIST, "not_exist served stale"},
	    {SV_STATE_UNKNOWN, 0, SV_STATE_ERROR, "no older answer: error"},
	    {SV_STATE_ERROR, 1 * M, SV_STATE_ERROR, "error stays error"},
	    {SV_STATE_VERIFIED, -30 * M, SV_STATE_VERIFIED,
	     "fresh verified keeps its state on a failed forced refresh"},
	};
	int64_t now = 1700000000000LL;

	for (size_t i = 0; i < SV_ARRAY_LEN(rows); i++) {
		sv_cache_rec r = {0};
		sv_identity id;
		r.state = rows[i].old;
		r.fetched_at = r.api_checked_at = now - H;
		r.expires_at = now - rows[i].since_expiry;
		answer(&id, SV_STATE_ERROR, "FailedOperation.ServiceNotAvailable",
		       SV_ECLASS_RETRYABLE);
		sv_cache_apply_error(&r, &id, now, &T, 7);
		ok(r.state == rows[i].want, "%s (%s)", rows[i].why, sv_state_name(r.state));
		if (rows[i].want == SV_STATE_ERROR)
			ok(r.expires_at > now && r.expires_at <= now + T.error,
			   "... error lasts at most ErrorTTL");
		else
			ok(r.next_try > now && r.next_try <= now + 5 * S,
			   "... retry scheduled with backoff");
		is_str(r.error_code, "FailedOperation.ServiceNotAvailable",
		       "... last error recorded");
		sv_cache_rec_clear(&r);
	}
}

static void test_extend(void)
{
	sv_cache_rec r = {0};
	int64_t now = 1700000000000LL;

	r.state = SV_STATE_UNVERIFIED;
	r.api_checked_at = now - 2 * H;
	r.expires_at = now - 1;
	ok(sv_cache_apply_extend(&r, now, &T) == 0 && r.expires_at == now + 5 * M,
	   "pre-check extension: another UnverifiedTTL without an API call");
	r.state = SV_STATE_VERIFIED;
	r.api_checked_at = now - 24 * H + 10 * M;
	ok(sv_cache_apply_extend(&r, now, &T) == 0 && r.expires_at == now + 10 * M,
	   "extension capped at MaxApiAge after the last API answer");
	r.api_checked_at = now - 24 * H;
	ok(sv_cache_apply_extend(&r, now, &T) < 0,
	   "past MaxApiAge: no extension, the API must be asked");
	r.state = SV_STATE_NOT_EXIST;
	r.api_checked_at = now;
	ok(sv_cache_apply_extend(&r, now, &T) < 0, "not_exist is never extended by the pre-check");
	sv_cache_apply_not_exist(&r, "absent", now, &T);
	ok(r.state == SV_STATE_NOT_EXIST && r.expires_at == now + H,
	   "list/NXDOMAIN not_exist for NotExistTTL");
	sv_cache_rec_clear(&r);
}

static void test_backoff(void)
{
	int64_t prev = 0, d;
	int mono = 1, jitter_ok = 1;

	for (unsigned f = 1; f <= 20; f++) {
		d = sv_cache_backoff(f, 1 * M, 1023);
		if (d < prev)
			mono = 0;
		prev = d;
	}
	ok(mono, "backoff grows with failures");
	ok(prev <= 15 * M && prev >= 7 * M, "backoff capped (%lld ms)", (long long)prev);
	for (unsigned rnd = 0; rnd < 5000; rnd += 7) {
		d = sv_cache_backoff(3, 1 * M, rnd);
		if (d < 2 * M || d >= 4 * M)
			jitter_ok = 0;
	}
	ok(jitter_ok, "jitter keeps the third backoff in [2m, 4m)");
}

static void test_view(void)
{
	char longv[400];
	sv_attr a[3];
	sv_entry_view v;
	sv_cache_rec r = {0};

	memset(longv, 'k', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	a[0] = (sv_attr){"TXT", "x.test", "v=spf1 include:qcloudmail.com ~all",
	                 "v=spf1 include:qcloudmail.com ~all", true};
	a[1] = (sv_attr){"TXT", "qcloud._domainkey.x.test", longv, "", false};
	a[2] = (sv_attr){"MX", "x.test", "mxbiz1.qq.com.", "mx.other.test.", false};
	sv_cache_fill_fail(a, 3, &v);
	is_str(v.fail_type, "TXT", "first failing attribute: type");
	is_str(v.fail_name, "qcloud._domainkey.x.test", "... its record name");
	ok(strlen(v.fail_expected) == SV_VIEW_TEXT - 1 &&
	       strcmp(v.fail_expected + SV_VIEW_TEXT - 4, "...") == 0,
	   "long expected value shortened with ...");
	ok(v.fail_missing, "empty current value means missing");
	sv_cache_fill_fail(a + 2, 1, &v);
	ok(!v.fail_missing && strcmp(v.fail_current, "mx.other.test.") == 0,
	   "wrong value: current shown");
	sv_cache_fill_fail(a, 1, &v);
	is_str(v.fail_type, "", "no failing attribute: empty fields");
	r.state = SV_STATE_VERIFIED;
	r.fetched_at = 1000 * S;
	r.expires_at = 2000 * S;
	sv_cache_fill_view(&r, 1500 * S, &v);
	ok(!v.stale && v.expires_at == 2000, "view before expiry: not stale, times in seconds");
	sv_cache_fill_view(&r, 2000 * S, &v);
	ok(v.stale, "view at expiry: stale");
}

static void put_state(sv_cache *c, const char *d, sv_state st, int64_t now)
{
	sv_cache_rec r = {0};

	r.state = st;
	r.fetched_at = now;
	r.expires_at = now + H;
	snprintf(r.request_id, sizeof(r.request_id), "rid-%.50s", d);
	sv_cache_put(c, d, &r);
}

static void test_backend(void)
{
	char err[128], d[64];
	sv_cache *c = sv_cache_open(NULL, 6400, err, sizeof(err));
	sv_entry_view v;
	sv_cache_rec meta, got;
	int64_t now = 1700000000000LL;
	uint64_t ev0 = sv_stat_get("cache.evicted");
	int old;

	ok(c != NULL, "memory backend opens");
	ok(sv_cache_peek(c, "a.test", now, &v, &meta) < 0, "absent domain: miss");
	put_state(c, "a.test", SV_STATE_VERIFIED, now);
	ok(sv_cache_peek(c, "a.test", now, &v, &meta) == 0 && v.state == SV_STATE_VERIFIED,
	   "put then peek");
	is_str(v.request_id, "rid-a.test", "view carries the request id");
	old = sv_cache_mark(c, "a.test", SV_REC_REFRESHING, 0, 0);
	ok(old == 0, "mark returns previous flags");
	sv_cache_peek(c, "a.test", now, &v, &meta);
	ok(v.refreshing && (meta.flags & SV_REC_REFRESHING), "refreshing flag visible");
	put_state(c, "a.test", SV_STATE_UNVERIFIED, now);
	sv_cache_peek(c, "a.test", now, &v, &meta);
	ok(v.refreshing && v.state == SV_STATE_UNVERIFIED,
	   "put keeps the refreshing bit (the refresher clears it)");
	ok(sv_cache_mark(c, "b.test", SV_REC_REFRESHING, 0, 0) == -1,
	   "mark without create on absent: -1");
	ok(sv_cache_mark(c, "b.test", SV_REC_REFRESHING, 0, 1) == 0,
	   "mark with create inserts unknown");
	ok(sv_cache_get(c, "b.test", &got) == 0 && got.state == SV_STATE_UNKNOWN,
	   "created record is unknown");
	sv_cache_rec_clear(&got);
	ok(sv_cache_del(c, "b.test") == 0 && sv_cache_del(c, "b.test") == -1, "del then del again");
	for (int i = 0; i < 20000; i++) {
		snprintf(d, sizeof(d), "d%05d.test", i);
		put_state(c, d, SV_STATE_NOT_EXIST, now);
		sv_cache_peek(c, "a.test", now, &v, NULL); /* keep a.test recent */
	}
	ok(sv_cache_count(c) <= 6400 + 64, "bounded: %zu entries for MaxEntries 6400",
	   sv_cache_count(c));
	ok(sv_stat_get("cache.evicted") - ev0 >= 20000 - 6400 - 64, "evictions counted (%llu)",
	   (unsigned long long)(sv_stat_get("cache.evicted") - ev0));
	ok(sv_cache_peek(c, "a.test", now, &v, NULL) == 0, "recently used entry survives eviction");
	ok(sv_cache_peek(c, "d00000.test", now, &v, NULL) < 0, "least recently used entry evicted");
	ok(sv_cache_peek(c, "d19999.test", now, &v, NULL) == 0, "newest entry present");
	sv_cache_close(c);
}

static sv_cache *shared;
/*
 * test_churn - random put/del/peek against a reference set
 *	The backend is open addressing with backward-shift deletion: a wrong
 *	shift loses a record that is still there or finds one that is gone.
 *	4,000 names over 64 shards give clusters; 60,000 random operations
 *	compare every answer with a plain array, then every name is checked.
 */
static void test_churn(void)
{
	enum { NAMES = 4000, OPS = 60000 };
	static char present[NAMES];
	char err[128], d[32];
	sv_cache *c = sv_cache_open(NULL, 0, err, sizeof(err));
	int64_t now = 1700000000000LL;
	uint64_t rnd = 0x2545F4914F6CDD1DULL;
	long wrong = 0, n = 0;

	memset(present, 0, sizeof(present));
	for (int op = 0; op < OPS; op++) {
		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		int i = (int)(rnd % NAMES), what = (int)((rnd >> 32) % 3);
		snprintf(d, sizeof(d), "churn%d.test", i);
		if (what == 0) {
			put_state(c, d, SV_STATE_VERIFIED, now);
			n += !present[i];
			present[i] = 1;
		} else if (what == 1) {
			int rc = sv_cache_del(c, d);
			wrong += (rc == 0) != present[i];
			n -= present[i];
			present[i] = 0;
		} else {
			wrong += (sv_cache_peek(c, d, now, NULL, NULL) == 0) != present[i];
		}
	}
	for (int i = 0; i < NAMES; i++) {
		snprintf(d, sizeof(d), "churn%d.test", i);
		wrong += (sv_cache_peek(c, d, now, NULL, NULL) == 0) != present[i];
	}
	is_int(wrong, 0, "churn: 60,000 random put/del/peek agree with a reference set");
	is_int((long)sv_cache_count(c), n, "churn: count matches (%ld records)", n);
	sv_cache_close(c);
}

static int stop_flag;

static void *hammer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	char d[32];
	sv_entry_view v;
	long n = 0;

	while (!sv_atomic_load(&stop_flag)) {
		int k = rand_r(&seed) % 500, op = rand_r(&seed) % 10;
		snprintf(d, sizeof(d), "h%d.test", k);
		if (op < 6)
			sv_cache_peek(shared, d, 0, &v, NULL);
		else if (op < 8)
			put_state(shared, d, (sv_state)(1 + k % 3), 0);
		else if (op < 9)
			sv_cache_mark(shared, d, SV_REC_REFRESHING, 0, 1);
		else
			sv_cache_del(shared, d);
		n++;
	}
	return (void *)n;
}

static void test_threads(void)
{
	char err[64];
	pthread_t t[4];
	long total = 0;
	void *rv;

	shared = sv_cache_open(NULL, 300, err, sizeof(err));
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, (void *)(uintptr_t)(i + 1));
	nanosleep(&(struct timespec){0, 400000000}, NULL);
	sv_atomic_store(&stop_flag, 1);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &rv);
		total += (long)rv;
	}
	ok(total > 1000, "4 threads did %ld mixed operations", total);
	ok(sv_cache_count(shared) <= 300 + 64, "bound held under concurrency (%zu)",
	   sv_cache_count(shared));
	sv_cache_close(shared);
}

static void test_engine_offline(void)
{
	sv_config *cfg = sv_config_defaults();
	char err[256];
	sv_engine *e;
	sv_entry_view v;
	struct timespec a, b;
	sv_state s;

	unsetenv("TENCENTCLOUD_SECRET_ID");
	unsetenv("TENCENTCLOUD_SECRET_KEY");
	cfg->warm_up = false;
	free(cfg->cache_file);
	cfg->cache_file = NULL;
	/* nothing listens there: the pre-check fails fast, the test stays offline */
	free(cfg->nameservers);
	cfg->nameservers = strdup("127.0.0.1@9");
	/* port 9 may drop rather than refuse: do not spend 2 x 2 s there (valgrind) */
	cfg->dns_timeout = 100;
	e = sv_engine_new(cfg, err, sizeof(err));
	ok(e != NULL, "engine created (%s)", e ? "ok" : err);
	if (!e)
		goto out;
	ok(sv_engine_start(e) == 0, "engine started");
	clock_gettime(CLOCK_MONOTONIC, &a);
	s = sv_engine_lookup(e, "Never-Seen.TEST.", &v);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ok(s == SV_STATE_UNKNOWN && v.refreshing, "never-seen domain: unknown, queued");
	ok((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 50000000L,
	   "lookup did not block");
	s = sv_engine_wait(e, "never-seen.test", 5000, &v);
	ok(s == SV_STATE_ERROR, "without a usable API the wait ends in %s (code %s)",
	   sv_state_name(s), v.error_code);
	is_str(v.error_code, "Client.Unavailable", "... saying why");
	s = sv_engine_lookup(e, "[1.2.3.4]", &v);
	ok(s == SV_STATE_ERROR && strcmp(v.error_code, "Domain.Invalid") == 0,
	   "invalid domain refused");
	{
		sv_config *cfg2 = sv_config_defaults();
		free(cfg2->cache_file);
		cfg2->cache_file = NULL;
		cfg2->verified_ttl = 5000;
		ok(sv_engine_reconfigure(e, cfg2) == 0,
		   "reconfigure: workers switch to the new config");
		s = sv_engine_lookup(e, "never-seen.test", &v);
		ok(s == SV_STATE_ERROR, "entries survive a reconfigure (%s)", sv_state_name(s));
		ok(sv_engine_reconfigure(e, cfg) == 0,
		   "reconfigure back before freeing the new config");
		sv_config_free(cfg2);
	}
	ok(sv_engine_forget(e, "never-seen.test") == 0, "forget a known domain");
	ok(sv_engine_forget(e, "never-seen.test") == -1, "forget again: absent");
	sv_engine_free(e);
out:
	sv_config_free(cfg);
}

/* test_records - the record checks and copies (expected values are literals) */
static void test_records(void)
{
	sv_cache_rec r, ok_rec = {0};
	sv_attr a[SV_ATTR_MAX + 1];
	const char *why = "";
	char err[64], dst[16] = "untouched";
	sv_cache *c = sv_cache_open(NULL, 10, err, sizeof(err));

	ok_rec.state = SV_STATE_VERIFIED;
	ok_rec.fetched_at = ok_rec.expires_at = 1;
	ok(sv_cache_rec_valid(&ok_rec, &why) == 0, "a plain verified record is valid");
	r = ok_rec;
	r.state = (sv_state)99;
	ok(sv_cache_rec_valid(&r, &why) < 0 && strcmp(why, "bad state") == 0, "state 99: %s", why);
	r = ok_rec;
	r.next_try = -1;
	ok(sv_cache_rec_valid(&r, &why) < 0 && strcmp(why, "negative time") == 0,
	   "negative next_try: %s", why);
	r = ok_rec;
	r.nattrs = 2;
	ok(sv_cache_rec_valid(&r, &why) < 0 && strcmp(why, "bad attribute count") == 0,
	   "attributes counted but absent: %s", why);
	r = ok_rec;
	memset(r.error_code, 'x', sizeof(r.error_code));
	ok(sv_cache_rec_valid(&r, &why) < 0 && strcmp(why, "unterminated string") == 0,
	   "error code without its NUL: %s", why);
	memset(a, 0, sizeof(a));
	snprintf(a[0].type, sizeof(a[0].type), "TXT");
	a[0].send_domain = "x.test";
	a[0].expected = "v=spf1";
	r = ok_rec;
	r.attrs = a;
	r.nattrs = 1;
	ok(sv_cache_rec_valid(&r, &why) < 0 && strcmp(why, "bad attribute") == 0,
	   "attribute without a current value: %s", why);
	a[0].current = "";
	ok(sv_cache_rec_valid(&r, &why) == 0, "the same attribute with current \"\" is valid");
	memset(a[0].type, 'T', sizeof(a[0].type));
	ok(sv_cache_rec_valid(&r, &why) < 0 && strcmp(why, "bad attribute") == 0,
	   "attribute type without its NUL: %s", why);

	/* the cache refuses what the check refuses, and keeps nothing */
	r = ok_rec;
	r.fetched_at = -5;
	ok(c && sv_cache_put(c, "bad.test", &r) < 0 && sv_cache_count(c) == 0,
	   "sv_cache_put refuses an invalid record, stores nothing");
	ok(sv_cache_put(c, "good.test", &ok_rec) == 0 && sv_cache_count(c) == 1,
	   "and stores a valid one");
	sv_cache_close(c);

	/* attribute copies: at most SV_ATTR_MAX, NULL strings become "" */
	for (size_t i = 0; i < SV_ATTR_MAX + 1; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		snprintf(a[i].type, sizeof(a[i].type), "MX");
	}
	memset(&r, 0, sizeof(r));
	ok(sv_cache_rec_set_attrs(&r, a, SV_ATTR_MAX + 1) == 0 && r.nattrs == SV_ATTR_MAX,
	   "one attribute over the limit: %zu kept", r.nattrs);
	ok(r.nattrs > 0 && strcmp(r.attrs[0].send_domain, "") == 0 &&
	       strcmp(r.attrs[0].expected, "") == 0 && strcmp(r.attrs[0].current, "") == 0 &&
	       strcmp(r.attrs[0].type, "MX") == 0,
	   "NULL strings copied as empty ones, the type kept");
	sv_cache_rec_clear(&r);

	is_int(sv_cache_ttl_for(&T, SV_STATE_ERROR), 1 * M, "an error is kept ErrorTTL (1m)");
	memset(&r, 0, sizeof(r));
	r.state = SV_STATE_VERIFIED;
	r.expires_at = 5;
	ok(sv_cache_apply_extend(&r, 1700000000000LL, &T) < 0 && r.expires_at == 5,
	   "never answered by the API (api_checked_at 0): not extended");

	sv_cache_shorten(dst, 0, "abc");
	is_str(dst, "untouched", "shorten into 0 bytes writes nothing");
	sv_cache_shorten(dst, 3, "abcdef");
	is_str(dst, "", "shorten into 3 bytes: too small for \"...\", empty");
	sv_cache_shorten(dst, 4, "abcdef");
	is_str(dst, "...", "shorten into 4 bytes: just \"...\"");
	sv_cache_shorten(dst, 6, "abcdef");
	is_str(dst, "ab...", "shorten one byte short: cut, ending in \"...\"");
	sv_cache_shorten(dst, 7, "abcde");
	is_str(dst, "abcde", "shorten what fits: unchanged");
}

int main(void)
{
	test_ttls();
	test_answers();
	test_serve_stale();
	test_extend();
	test_records();
	test_backoff();
	test_view();
	test_backend();
	test_churn();
	test_threads();
	test_engine_offline();
	return tap_done();
}
