/*
 * test_snapshot.c - CacheFile: round trip (escapes, attributes), atomic
 *	save with mode 0600, and every rejection: truncated at each length,
 *	flipped bytes, random bytes, foreign magic, future version, bad
 *	records skipped with a count, expired records, unwritable directory.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot.h"
#include "tap.h"

static const int64_t NOW = 1700000000000LL;
static sv_cache_ttl T;

struct counter {
	int n;
	sv_cache *into;
};

/* count_put - count (and maybe store) loaded records */
static int count_put(const char *domain, const sv_cache_rec *rec, void *arg)
{
	struct counter *c = arg;

	c->n++;
	return c->into ? sv_cache_put(c->into, domain, rec) : 0;
}

/* fill - a cache with one record of each kind */
static sv_cache *fill(void)
{
	char err[64];
	sv_cache *c = sv_cache_open(NULL, 1000, err, sizeof(err));
	sv_cache_rec r = {0};
	sv_attr a[3] = {
	    {"TXT", "odd.test", "v=spf1 include:qcloudmail.com ~all", "tab\there", true},
	    {"TXT", "qcloud._domainkey.odd.test", "v=DKIM1; p=back\\slash", "", false},
	    {"MX", "odd.test", "mxbiz1.qq.com.", "line\nbreak\r", false}};

	r.state = SV_STATE_VERIFIED;
	r.fetched_at = r.api_checked_at = NOW - 1000;
	r.expires_at = NOW + 3600000;
	snprintf(r.request_id, sizeof(r.request_id), "6f1c-aaaa");
	sv_cache_put(c, "ok.test", &r);
	r.state = SV_STATE_UNVERIFIED;
	r.flags = SV_REC_LISTED | SV_REC_REFRESHING;
	r.error_message = "message with\ttab";
	snprintf(r.error_code, sizeof(r.error_code), "FailedOperation.ServiceNotAvailable");
	r.attrs = a;
	r.nattrs = 3;
	r.failures = 2;
	sv_cache_put(c, "odd.test", &r);
	memset(&r, 0, sizeof(r));
	r.state = SV_STATE_NOT_EXIST;
	r.fetched_at = NOW;
	r.expires_at = NOW + 3600000;
	sv_cache_put(c, "xn--bcher-kva.test", &r);
	r.state = SV_STATE_ERROR;
	sv_cache_put(c, "err.test", &r);
	sv_cache_mark(c, "unknown.test", 0, 0, 1);
	return c;
}

/* fnv64 - the format's checksum, recomputed independently */
static uint64_t fnv64(const char *p, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

/* image - body lines framed by a header and a correct END line */
static char *image(const char *header, const char *body, int nrec)
{
	size_t hl = strlen(header), bl = strlen(body);
	char *p = malloc(hl + bl + 64);

	memcpy(p, header, hl);
	memcpy(p + hl, body, bl + 1);
	sprintf(p + hl + bl, "END\t%d\t%016" PRIx64 "\n", nrec, fnv64(p, hl + bl));
	return p;
}

static void test_round_trip(void)
{
	sv_cache *c = fill(), *d;
	sv_buf b;
	size_t n = 0;
	struct counter cnt = {0, NULL};
	sv_snapshot_stats st;
	sv_cache_rec got;
	char err[256];

	sv_buf_init(&b, 0);
	ok(sv_snapshot_format(c, &b, NOW, &n) == 0, "format");
	is_int(n, 3, "three answer records written (unknown and error are not persisted)");
	ok(strncmp(b.data, "sesverify-cache\t1\t", 18) == 0, "header names magic and version 1");
	d = sv_cache_open(NULL, 1000, err, sizeof(err));
	cnt.into = d;
	ok(sv_snapshot_load_buffer(b.data, b.len, NOW, &T, count_put, &cnt, &st, err,
	                           sizeof(err)) == 0,
	   "load back (%s)", err);
	is_int(st.loaded, 3, "three loaded");
	is_int(st.bad, 0, "none bad");
	ok(sv_cache_get(d, "odd.test", &got) == 0, "odd.test present");
	ok(got.state == SV_STATE_UNVERIFIED && got.nattrs == 3 && got.failures == 2,
	   "state, attrs, failures");
	is_str(got.attrs[0].current, "tab\there", "TAB survives");
	is_str(got.attrs[1].expected, "v=DKIM1; p=back\\slash", "backslash survives");
	is_str(got.attrs[2].current, "line\nbreak\r", "LF and CR survive");
	is_str(got.error_message, "message with\ttab", "error message survives");
	is_str(got.error_code, "FailedOperation.ServiceNotAvailable", "error code survives");
	ok(got.flags == SV_REC_LISTED, "only persistent flags kept (refreshing dropped)");
	ok(!got.attrs[1].status && got.attrs[0].status, "status bits");
	sv_cache_rec_clear(&got);
	ok(sv_cache_get(d, "ok.test", &got) == 0 && got.expires_at == NOW + 3600000 &&
	       strcmp(got.request_id, "6f1c-aaaa") == 0,
	   "verified record times and request id");
	sv_cache_rec_clear(&got);
	ok(sv_cache_get(d, "xn--bcher-kva.test", &got) == 0 && got.state == SV_STATE_NOT_EXIST,
	   "A-label domain");
	sv_cache_rec_clear(&got);

	/* every truncation is refused and loads nothing */
	{
		int all = 1;
		for (size_t len = 0; len < b.len; len++) {
			cnt.n = 0;
			cnt.into = NULL;
			if (sv_snapshot_load_buffer(b.data, len, NOW, &T, count_put, &cnt, &st, err,
			                            sizeof(err)) == 0 ||
			    cnt.n != 0)
				all = 0;
		}
		ok(all, "all %zu truncated prefixes refused with nothing loaded", b.len);
	}
	/* every single-byte change is refused */
	{
		int all = 1;
		for (size_t i = 0; i < b.len; i++) {
			char *copy = malloc(b.len);
			memcpy(copy, b.data, b.len);
			copy[i] ^= 0x20;
			cnt.n = 0;
			if (sv_snapshot_load_buffer(copy, b.len, NOW, &T, count_put, &cnt, &st, err,
			                            sizeof(err)) == 0 &&
			    memcmp(copy, b.data, b.len) != 0)
				all = 0;
			free(copy);
		}
		ok(all, "every flipped byte detected (checksum/structure)");
	}
	sv_buf_free(&b);
	sv_cache_close(c);
	sv_cache_close(d);
}

static void test_rejections(void)
{
	struct counter cnt = {0, NULL};
	sv_snapshot_stats st;
	char err[256], *img;
	unsigned seed = 42;
	int random_ok = 1;
	const char *foreign = "SQLite format 3\0...";

	ok(sv_snapshot_load_buffer(foreign, 20, NOW, &T, count_put, &cnt, &st, err, sizeof(err)) <
	           0 &&
	       strstr(err, "magic"),
	   "foreign file refused: %s", err);
	img = image("sesverify-cache\t2\t0\n", "", 0);
	ok(sv_snapshot_load_buffer(img, strlen(img), NOW, &T, count_put, &cnt, &st, err,
	                           sizeof(err)) < 0 &&
	       strstr(err, "version 2"),
	   "future version refused: %s", err);
	free(img);
	img = image("sesverify-cache\t1\t0\n", "X\tjunk\n", 0);
	ok(sv_snapshot_load_buffer(img, strlen(img), NOW, &T, count_put, &cnt, &st, err,
	                           sizeof(err)) < 0,
	   "unknown line type refused: %s", err);
	free(img);
	img = image("sesverify-cache\t1\t0\n",
	            "D\tok.test\tverified\t0\t1\t9700000000000\t1\t0\t\t\t\t0\n", 2);
	ok(sv_snapshot_load_buffer(img, strlen(img), NOW, &T, count_put, &cnt, &st, err,
	                           sizeof(err)) < 0,
	   "record count mismatch refused: %s", err);
	free(img);
	for (int i = 0; i < 2000; i++) {
		char buf[256];
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf));
		for (size_t k = 0; k < len; k++)
			buf[k] = (char)rand_r(&seed);
		if (i % 2)
			memcpy(buf, "sesverify-cache\t1\t", len < 18 ? len : 18);
		cnt.n = 0;
		if (sv_snapshot_load_buffer(buf, len, NOW, &T, count_put, &cnt, &st, err,
		                            sizeof(err)) == 0 ||
		    cnt.n)
			random_ok = 0;
	}
	ok(random_ok, "2000 random buffers refused without a crash");

	/* a well-framed file with bad records: good ones load, bad ones are counted */
	img =
	    image("sesverify-cache\t1\t0\n",
	          "D\tgood."
	          "test\tverified\t0\t1699999999000\t1700000900000\t1699999999000\t0\trid\t\t\t0\n"
	          "D\tBad.Test\tverified\t0\t1\t1700000900000\t1\t0\t\t\t\t0\n"
	          "D\tbad2.test\tmaybe\t0\t1\t1700000900000\t1\t0\t\t\t\t0\n"
	          "D\tbad3.test\tunverified\t0\t1\t1700000900000\t1\t0\t\t\t\t2\n"
	          "A\tTXT\tbad3.test\tv=spf1\t\t0\n"
	          "D\tbad4.test\tverified\t0\t1\t17000009000x0\t1\t0\t\t\t\t0\n"
	          "D\tbad5.test\tverified\t0\t1\t1700000900000\t1\t0\t\tbad\\qescape\t\t0\n"
	          "D\tbad6.test\tverified\t0\t9999999999999\t1700000900000\t1\t0\t\t\t\t0\n"
	          "D\tbad7.test\tunverified\t0\t1\t1700000900000\t1\t0\t\t\t\t1\n"
	          "A\ttxt\tbad7.test\tv=spf1\t\t0\n"
	          "D\tbad8.test\terror\t0\t1\t1700000900000\t1\t0\t\t\t\t0\n"
	          "D\told.test\tverified\t0\t1\t1600000000000\t1\t0\t\t\t\t0\n"
	          "D\tgood2."
	          "test\tunverified\t2\t1699999999000\t1700000300000\t1699999999000\t0\t\t\t\t1\n"
	          "A\tMX\tgood2.test\tmxbiz1.qq.com.\tmx.other.\t0\n",
	          11);
	cnt.n = 0;
	ok(sv_snapshot_load_buffer(img, strlen(img), NOW, &T, count_put, &cnt, &st, err,
	                           sizeof(err)) == 0,
	   "file with bad records still loads (%s)", err);
	is_int(st.loaded, 2, "the two good records loaded");
	is_int(st.bad, 8, "eight bad records skipped and counted");
	is_int(st.expired, 1, "one record past MaxStale dropped");
	free(img);

	/*
	 * expires_at at most 400 days after now (86400000 ms a day): a record
	 * that claims to stay fresh for years is bad, the limit itself loads.
	 * NOW + 400 days = 1734560000000.
	 */
	img = image("sesverify-cache\t1\t0\n",
	            "D\tlimit.test\tverified\t0\t1699999999000\t1734560000000\t1699999999000\t0"
	            "\t\t\t\t0\n"
	            "D\tpast.test\tverified\t0\t1699999999000\t1734560000001\t1699999999000\t0"
	            "\t\t\t\t0\n"
	            "D\tyears.test\tunverified\t0\t1699999999000\t1857680000000\t1699999999000"
	            "\t0\t\t\t\t0\n",
	            3);
	cnt.n = 0;
	ok(sv_snapshot_load_buffer(img, strlen(img), NOW, &T, count_put, &cnt, &st, err,
	                           sizeof(err)) == 0,
	   "file with far-future expiries loads (%s)", err);
	is_int(st.loaded, 1, "expires_at exactly 400 days ahead loaded");
	is_int(st.bad, 2, "expires_at 400 days + 1 ms and 5 years ahead refused as bad");
	is_int(cnt.n, 1, "only the record within the bound handed to the cache");
	free(img);
}

static void test_files(void)
{
	char dir[] = "/tmp/sv-snap-XXXXXX", path[256], bad[300], err[512];
	sv_cache *c = fill();
	struct counter cnt = {0, NULL};
	sv_snapshot_stats st;
	struct stat sb = {0}; /* printed in ok() whose arguments may be evaluated before stat() */
	size_t n;
	FILE *f;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/cache", dir);
	ok(sv_snapshot_load(path, NOW, &T, count_put, &cnt, &st, err, sizeof(err)) == 0 &&
	       cnt.n == 0,
	   "a missing file is an empty start, not an error");
	ok(sv_snapshot_save(c, path, NOW, &n, err, sizeof(err)) == 0, "save (%s)", err);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "file mode 0600 (%o)",
	   sb.st_mode & 0777);
	ok(sv_snapshot_load(path, NOW, &T, count_put, &cnt, &st, err, sizeof(err)) == 0 &&
	       cnt.n == 3,
	   "load the saved file: %d records", cnt.n);
	ok(sv_snapshot_save(c, path, NOW, &n, err, sizeof(err)) == 0, "save again over it");
	snprintf(bad, sizeof(bad), "%s/cache", path); /* below a regular file */
	ok(sv_snapshot_save(c, bad, NOW, &n, err, sizeof(err)) < 0, "unwritable place refused: %s",
	   err);
	f = fopen(path, "r+");
	ftruncate(fileno(f), 40);
	fclose(f);
	cnt.n = 0;
	ok(sv_snapshot_load(path, NOW, &T, count_put, &cnt, &st, err, sizeof(err)) < 0 &&
	       cnt.n == 0,
	   "truncated file refused: %s", err);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "ls %s | wc -l", dir);
		f = popen(cmd, "r");
		ok(fscanf(f, "%zu", &n) == 1 && n == 1,
		   "no temporary files left behind (%zu entries)", n);
		pclose(f);
	}
	unlink(path);
	rmdir(dir);
	sv_cache_close(c);
}

int main(void)
{
	sv_cache_ttl_init(&T, NULL);
	test_round_trip();
	test_rejections();
	test_files();
	return tap_done();
}
