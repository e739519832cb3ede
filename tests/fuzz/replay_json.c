/*
 * replay_json.c - run every file of tests/fuzz/corpus/json, and every
 *	prefix of it, through the fuzz target; one TAP point per file.
 *	A crash or a broken invariant aborts the program (and the test).
 *	Usage: replay_json [DIR]  (default $top_srcdir/tests/fuzz/corpus/json)
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sesverify.h"
#include "../unit/tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* slurp - a whole file (with a NUL after it, not counted) */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = 0;
	fclose(f);
	return buf;
}

/* by_name - stable order */
static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	char dir[1024], path[2048], *names[512];
	const char *top = getenv("top_srcdir");
	struct dirent *de;
	size_t nnames = 0;
	DIR *d;

	sv_log_set_handler(NULL, NULL, SV_LOG_ERR); /* skipped-name warnings are noise here */
	snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "");
	if (argc < 2)
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/json", top ? top : ".");
	if ((d = opendir(dir)) == NULL) {
		printf("Bail out! cannot open %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL && nnames < 512)
		if (de->d_name[0] != '.')
			names[nnames++] = strdup(de->d_name);
	closedir(d);
	qsort(names, nnames, sizeof(names[0]), by_name);
	ok(nnames >= 10, "corpus has %zu files", nnames);
	for (size_t i = 0; i < nnames; i++) {
		size_t len = 0;
		char *buf;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((buf = slurp(path, &len)) == NULL) {
			ok(0, "read %s", names[i]);
			free(names[i]);
			continue;
		}
		/* each prefix in its own exact-size copy, so ASan sees over-reads;
		 * big seeds are sampled so that one run stays well under a second */
		size_t step = len > 4096 ? len / 2048 : 1;
		for (size_t k = 0;; k += step) {
			char *copy;
			if (k > len)
				k = len;
			copy = malloc(k ? k : 1);
			memcpy(copy, buf, k);
			LLVMFuzzerTestOneInput((const uint8_t *)copy, k);
			free(copy);
			if (k == len)
				break;
		}
		ok(1, "%s and its %zu prefixes", names[i], len);
		free(buf);
		free(names[i]);
	}
	return tap_done();
}
