/*
 * fuzz_snapshot.c - libFuzzer target for the cache snapshot loader
 *	(sv_snapshot_load_buffer, lib/snapshot.c).
 *	Owns only the harness; the loader and the format are lib/snapshot.c's.
 *
 *	Each input is loaded twice: as it is (exercises the whole-file
 *	checks: magic, version, END line, checksum), and "sealed": the
 *	header is prepended when missing and a correct END line (record
 *	count and FNV-1a checksum) is appended, so that the fuzzer reaches
 *	the per-record parser instead of dying on the checksum.
 *	Invariants (abort on violation):
 *	  - every record handed to put is valid (sv_cache_rec_valid) and
 *	    servable at "now"; loaded + bad + expired counts match put calls;
 *	  - a failed load has a reason and put nothing;
 *	  - what was loaded, formatted again and re-loaded, loads completely
 *	    (no bad, no expired record) to the same count and the same bytes
 *	    length: the writer and the reader agree on the format.
 *	Built by tests/fuzz/test-libfuzzer.sh with clang and replayed over
 *	tests/fuzz/corpus/snapshot by replay_snapshot in every "make check".
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cache.h"
#include "fuzz-parsers.h"
#include "snapshot.h"

#define NOW    1700000000000LL
#define HEADER SV_SNAPSHOT_MAGIC "\t1\t1699999999000\n"

static const sv_cache_ttl TTL = {3600000, 600000, 600000, 60000, 86400000, 86400000};

struct sink {
	sv_cache *cache; /* NULL: count only */
	size_t puts;
};

/* put - the loader's callback: check the record, keep it */
static int put(const char *domain, const sv_cache_rec *rec, void *arg)
{
	struct sink *s = arg;
	const char *why = NULL;

	fuzz_check(domain != NULL && domain[0] != '\0');
	fuzz_check(sv_cache_rec_valid(rec, &why) == 0);
	fuzz_check(sv_cache_servable(rec, NOW, &TTL));
	s->puts++;
	return s->cache ? sv_cache_put(s->cache, domain, rec) : 0;
}

/* fnv64 - FNV-1a 64, the snapshot's checksum (documented in snapshot.h) */
static uint64_t fnv64(const char *p, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

/* load - one load; checks the counters against the callback */
static int load(const char *buf, size_t len, struct sink *s, sv_snapshot_stats *st)
{
	char err[256] = "";
	int rc;

	s->puts = 0;
	rc = sv_snapshot_load_buffer(buf, len, NOW, &TTL, put, s, st, err, sizeof(err));
	if (rc < 0) {
		/* a rejected file loads nothing (snapshot.h: "the cache starts empty") */
		fuzz_check(err[0] != '\0' && s->puts == 0);
	} else {
		fuzz_check(s->puts == st->loaded);
	}
	return rc;
}

/* seal - header (when missing) + input + newline + a correct END line */
static void seal(const uint8_t *data, size_t size, sv_buf *b)
{
	size_t start, dlines = 0;
	char end[80];

	if (size < sizeof(SV_SNAPSHOT_MAGIC) || memcmp(data, SV_SNAPSHOT_MAGIC "\t", 16) != 0)
		sv_buf_append(b, HEADER, strlen(HEADER));
	start = b->len;
	sv_buf_append(b, (const char *)data, size);
	if (b->len == 0 || b->data[b->len - 1] != '\n')
		sv_buf_append(b, "\n", 1);
	for (size_t i = start; i + 1 < b->len; i++)
		if ((i == 0 || b->data[i - 1] == '\n') && b->data[i] == 'D' &&
		    b->data[i + 1] == '\t')
			dlines++;
	snprintf(end, sizeof(end), "END\t%zu\t%016" PRIx64 "\n", dlines, fnv64(b->data, b->len));
	sv_buf_append(b, end, strlen(end));
}

/* roundtrip - format what c holds, load it into a fresh cache, compare */
static void roundtrip(sv_cache *c)
{
	sv_buf one, two;
	sv_snapshot_stats st;
	struct sink s = {0};
	size_t n1 = 0, n2 = 0;
	char err[128];

	sv_buf_init(&one, 0);
	sv_buf_init(&two, 0);
	fuzz_check(sv_snapshot_format(c, &one, NOW, &n1) == 0);
	s.cache = sv_cache_open(NULL, 100000, err, sizeof(err));
	fuzz_check(s.cache != NULL);
	fuzz_check(load(one.data, one.len, &s, &st) == 0);
	fuzz_check(st.loaded == n1 && st.bad == 0 && st.expired == 0);
	fuzz_check(sv_snapshot_format(s.cache, &two, NOW, &n2) == 0);
	fuzz_check(n2 == n1 && two.len == one.len);
	sv_cache_close(s.cache);
	sv_buf_free(&one);
	sv_buf_free(&two);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sv_snapshot_stats st;
	struct sink s = {0};
	sv_buf sealed;
	char err[128];

	sv_buf_init(&sealed, 0);
	(void)load((const char *)data, size, &s, &st);
	seal(data, size, &sealed);
	s.cache = sv_cache_open(NULL, 100000, err, sizeof(err));
	fuzz_check(s.cache != NULL);
	if (load(sealed.data, sealed.len, &s, &st) == 0)
		roundtrip(s.cache);
	sv_cache_close(s.cache);
	sv_buf_free(&sealed);
	return 0;
}
