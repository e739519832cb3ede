/*
 * replay_dnsnorm.c - the dnsnorm fuzz target over the committed seed corpus.
 *	For each file of tests/fuzz/corpus/dnsnorm (or DIR): the file, every
 *	prefix and every suffix of it, each in an exact-size heap copy so
 *	that ASan sees over-reads.  One TAP point per file; a broken
 *	invariant aborts.  Usage: replay_dnsnorm [DIR]
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/tap.h"

#define MAX_SEEDS     256
#define MAX_SEED_SIZE 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* run_copy - the target on an exact-size copy of len bytes at p */
static void run_copy(const unsigned char *p, size_t len)
{
	unsigned char *c = malloc(len ? len : 1);

	if (!c)
		return;
	memcpy(c, p, len);
	LLVMFuzzerTestOneInput(c, len);
	free(c);
}

/* cmp_names - qsort order */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* replay - one seed file; -1 when it cannot be read */
static int replay(const char *path, size_t *len)
{
	static unsigned char buf[MAX_SEED_SIZE];
	FILE *fp = fopen(path, "rb");

	if (!fp)
		return -1;
	*len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	for (size_t k = 0; k <= *len; k++) {
		run_copy(buf, k);
		run_copy(buf + k, *len - k);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char dir[1024], path[2048], *names[MAX_SEEDS];
	size_t n = 0, len = 0;
	int rc;
	struct dirent *de;
	DIR *d;

	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/dnsnorm", top ? top : ".");
	if (!(d = opendir(dir))) {
		printf("Bail out! cannot open %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL && n < MAX_SEEDS)
		if (de->d_name[0] != '.' && (names[n] = strdup(de->d_name)) != NULL)
			n++;
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	ok(n >= 10, "corpus %s has %zu seeds", dir, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		len = 0;
		rc = replay(path, &len);
		ok(rc == 0, "%s, its prefixes and suffixes (%zu bytes)", names[i], len);
		free(names[i]);
	}
	return tap_done();
}
