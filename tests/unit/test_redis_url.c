/*
 * test_redis_url.c - the Redis configuration keys: the URL parser (literal
 *	expectations), the key checks, the file-mode rule for a file holding a
 *	Redis password, redaction in the dump, the default budget name.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config_int.h"
#include "redis.h"
#include "tap.h"

#define PW "pw-DO-NOT-LOG-77"

static sv_buf msgs;

/* collect - report callback */
static void collect(const char *message, void *arg)
{
	(void)arg;
	sv_buf_printf(&msgs, "%s\n", message);
}

/* test_parse - accepted URLs and their parts */
static void test_parse(void)
{
	static const struct {
		const char *in, *host, *path, *user, *pass;
		int port, db;
	} good[] = {
	    {"redis://localhost", "localhost", NULL, NULL, NULL, 6379, 0},
	    {"redis://127.0.0.1:6380/2", "127.0.0.1", NULL, NULL, NULL, 6380, 2},
	    {"redis://[::1]:7000", "::1", NULL, NULL, NULL, 7000, 0},
	    {"redis://:" PW "@redis.example.net", "redis.example.net", NULL, NULL, PW, 6379, 0},
	    {"redis://ses:" PW "@10.0.0.5:6390/15", "10.0.0.5", NULL, "ses", PW, 6390, 15},
	    {"redis://:a%40b%3Ac%2Fd@h", "h", NULL, NULL, "a@b:c/d", 6379, 0},
	    {"redis://u%2Bx:p@h/0", "h", NULL, "u+x", "p", 6379, 0},
	    {"unix:/run/redis/redis.sock", NULL, "/run/redis/redis.sock", NULL, NULL, 0, 0},
	    {"unix:/tmp/r.sock?db=3", NULL, "/tmp/r.sock", NULL, NULL, 0, 3},
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"localhost:6379", "expected redis://"},
	    {"rediss://h", "expected redis://"},
	    {"redis://", "bad host"},
	    {"redis://h:0", "bad port"},
	    {"redis://h:65536", "bad port"},
	    {"redis://h:63a", "bad port"},
	    {"redis://h:", "bad port"},
	    {"redis://h/", "bad database"},
	    {"redis://h/x", "bad database"},
	    {"redis://h/01", "bad database"},
	    {"redis://h/1000001", "bad database"},
	    {"redis://h/1?x=1", "bad database"},
	    {"redis://" PW "@h", "USER:PASSWORD@"},
	    {"redis://u:@h", "empty password"},
	    {"redis://u:a:b@h", "bad or empty password"},
	    {"redis://u:%4@h", "bad or empty password"},
	    {"redis://u:%00@h", "bad or empty password"},
	    {"redis://:" PW "@", "bad host"},
	    {"redis://[::1", "IPv6"},
	    {"redis://[zz]:1", "IPv6"},
	    {"redis://h h", "bad host"},
	    {"unix:", "absolute socket path"},
	    {"unix:relative.sock", "absolute socket path"},
	    {"unix:/tmp/r.sock?db=", "?db=N"},
	    {"unix:/tmp/r.sock?database=1", "?db=N"},
	    {"unix:/tmp/r .sock", "blank"},
	};
	sv_redis_url u;
	char err[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = sv_redis_url_parse(good[i].in, &u, err, sizeof(err));
		is_int(rc, 0, "accepted: %s", good[i].in);
		if (rc != 0) {
			diag("%s", err);
			continue;
		}
		is_str(u.host, good[i].host, "  host");
		is_str(u.path, good[i].path, "  path");
		is_str(u.user, good[i].user, "  user");
		ok(good[i].pass ? u.password && strcmp(u.password, good[i].pass) == 0
		                : u.password == NULL,
		   "  password");
		if (u.host)
			is_int(u.port, good[i].port, "  port");
		is_int(u.db, good[i].db, "  db");
		sv_redis_url_clear(&u);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		is_int(sv_redis_url_parse(bad[i].in, &u, err, sizeof(err)), -1, "refused: %s",
		       bad[i].in);
		ok(strstr(err, bad[i].why) != NULL && strstr(err, PW) == NULL,
		   "  says '%s' (got: %s)", bad[i].why, err);
	}
}

/* test_redact - the password never shown */
static void test_redact(void)
{
	char out[200];

	sv_redis_url_redact("redis://ses:" PW "@h:1/2", out, sizeof(out));
	is_str(out, "redis://ses:(set)@h:1/2", "redacted with a user");
	sv_redis_url_redact("redis://:" PW "@h", out, sizeof(out));
	is_str(out, "redis://:(set)@h", "redacted without a user");
	sv_redis_url_redact("redis://h:1", out, sizeof(out));
	is_str(out, "redis://h:1", "nothing to redact");
	is_int(sv_redis_url_has_password("redis://:" PW "@h"), 1, "has a password");
	is_int(sv_redis_url_has_password("redis://h"), 0, "no password");
	is_int(sv_redis_url_has_password("unix:/x"), 0, "unix: no password");
	is_int(sv_redis_url_has_password(NULL), 0, "unset: no password");
}

/* load - text as a config; error count */
static int load(const char *text, sv_config **cfg)
{
	sv_buf_reset(&msgs);
	*cfg = NULL;
	return sv_config_load_buffer("t.conf", text, strlen(text), 0, cfg, collect, NULL);
}

/* test_keys - the keys, their defaults and errors */
static void test_keys(void)
{
	sv_config *c = NULL;
	char tmpl[] = "/tmp/test_redis_url.XXXXXX", path[300];
	FILE *fp;
	int fd;

	c = sv_config_defaults();
	ok(c && c->redis == NULL, "Redis unset by default");
	is_str(c ? c->redis_prefix : NULL, "sesverify:", "RedisPrefix default");
	is_int(c ? c->redis_timeout : 0, 250, "RedisTimeout default 250ms");
	is_int(c ? c->redis_down_api_rate : 0, 5, "RedisDownApiRate default 5");
	ok(c && c->api_rate_key == NULL, "ApiRateKey unset by default");
	sv_config_free(c);

	is_int(load("RedisPrefix \"a b\"\n", &c), 1, "RedisPrefix with a blank refused");
	ok(strstr(msgs.data, "t.conf:1: RedisPrefix: bad value") != NULL, "  FILE:LINE message");
	is_int(load("ApiRateKey acct/1\n", &c), 1, "ApiRateKey with '/' refused");
	is_int(load("RedisTimeout 5ms\n", &c), 1, "RedisTimeout below 10ms refused");
	is_int(load("RedisDownApiRate 0\n", &c), 1, "RedisDownApiRate 0 refused");
	is_int(
	    load("RedisPrefix mta:\nRedisTimeout 1s\nRedisDownApiRate 7\nApiRateKey acct-1\n", &c),
	    0, "the other keys parse");
	if (c) {
		is_str(c->redis_prefix, "mta:", "  RedisPrefix");
		is_int(c->redis_timeout, 1000, "  RedisTimeout");
		is_int(c->redis_down_api_rate, 7, "  RedisDownApiRate");
		is_str(c->api_rate_key, "acct-1", "  ApiRateKey");
	}
	sv_config_free(c);

#ifdef HAVE_HIREDIS
	is_int(load("\n\nRedis redis://h:99999\n", &c), 1, "bad Redis port refused");
	ok(strstr(msgs.data, "t.conf:3: Redis: bad port") != NULL, "  FILE:LINE message (%s)",
	   msgs.data);
	is_int(load("Redis redis://u:" PW "@\n", &c), 1, "Redis without host refused");
	ok(strstr(msgs.data, PW) == NULL, "  message without the password");
	is_int(load("Redis redis://u:" PW "@h/1\n", &c), 0, "Redis with a password parses");
	if (c) {
		char *buf = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&buf, &len);
		sv_config_dump(c, mem);
		fclose(mem);
		ok(buf && strstr(buf, "redis://u:(set)@h/1") && !strstr(buf, PW),
		   "dump shows the Redis URL without its password");
		free(buf);
	}
	sv_config_free(c);

	/* the SecretKey file-mode rule */
	if ((fd = mkstemp(tmpl)) < 0 || (fp = fdopen(fd, "w")) == NULL) {
		ok(0, "temp file");
		return;
	}
	fputs("Redis redis://:" PW "@127.0.0.1\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s", tmpl);
	chmod(path, 0644);
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 1,
	       "0644 file with a Redis password refused");
	ok(strstr(msgs.data, "contains a Redis password but is readable by group/others (mode "
	                     "0644); chmod 600") &&
	       !strstr(msgs.data, PW),
	   "  says why, without the password (%s)", msgs.data);
	chmod(path, 0600);
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 0, "0600 file with a Redis password loads");
	sv_config_free(c);
	fp = fopen(path, "w");
	fputs("Redis redis://127.0.0.1\n", fp);
	fclose(fp);
	chmod(path, 0644);
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 0,
	       "0644 file with a Redis URL without a password loads");
	sv_config_free(c);
	unlink(path);
#else
	(void)tmpl;
	(void)path;
	(void)fp;
	(void)fd;
	is_int(load("Redis unix:/run/redis.sock\n", &c), 1, "Redis refused in a build without it");
	ok(strstr(msgs.data, "t.conf:1: Redis: this build has no Redis support") &&
	       strstr(msgs.data, "libhiredis-dev"),
	   "  says which package (%s)", msgs.data);
#endif
}

/* test_rate_key - default budget name: region and a hash of the SecretId */
static void test_rate_key(void)
{
	char k[100];

	/* printf AKIDexample | sha256sum: 5dd2a3bac51024c4... (computed outside the code) */
	is_int(sv_redis_rl_key("ap-guangzhou", "AKIDexample", k, sizeof(k)), 0, "key formed");
	is_str(k, "ap-guangzhou:5dd2a3bac51024c4", "region and 16 hex digits of SHA-256(SecretId)");
	ok(strstr(k, "AKID") == NULL, "SecretId not in clear");
	is_int(sv_redis_rl_key("ap-guangzhou", "AKIDexample", k, 10), -1, "too small a buffer");
}

int main(void)
{
	sv_buf_init(&msgs, 0);
	test_parse();
	test_redact();
	test_keys();
	test_rate_key();
	sv_buf_free(&msgs);
	return tap_done();
}
