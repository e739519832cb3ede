/*
 * fuzz_config.c - libFuzzer harness for lib/config.c.
 *	Parses the input as a configuration file held in memory (no @FILE
 *	lists: SV_CONFIG_NO_FILES), twice: as it is, and after a first line
 *	"SecretKey CANARY".  Invariants: the return value equals the number
 *	of messages reported; a config is handed out exactly when there are
 *	no errors; every message starts with "fuzz.conf:"; the canary never
 *	appears in a message or in a dump; a loaded config dumps and frees.
 */
#include "config.h"

#include <string.h>

#include "config_int.h"
#include "fuzz-parsers.h"

#define CANARY "sv-canary-DO-NOT-LOG-7f3a9c"

typedef struct seen {
	int count;
	int leaked;
} seen;

/* count - report callback */
static void count(const char *message, void *arg)
{
	seen *s = arg;

	s->count++;
	fuzz_check(strncmp(message, "fuzz.conf:", 10) == 0);
	if (strstr(message, CANARY))
		s->leaked = 1;
}

/* run - load one text, check the invariants */
static void run(const char *text, size_t len, int check_canary)
{
	seen s = {0, 0};
	sv_config *cfg = NULL;
	char *dump = NULL;
	size_t dlen = 0;
	FILE *fp;
	int rc;

	rc = sv_config_load_buffer("fuzz.conf", text, len, SV_CONFIG_NO_FILES, &cfg, count, &s);
	fuzz_check(rc == s.count);
	fuzz_check((rc == 0) == (cfg != NULL));
	fuzz_check(!check_canary || !s.leaked);
	if (cfg == NULL)
		return;
	if ((fp = open_memstream(&dump, &dlen)) != NULL) {
		sv_config_dump(cfg, fp);
		fclose(fp);
		fuzz_check(!check_canary || strstr(dump, CANARY) == NULL);
		free(dump);
	}
	sv_config_free(cfg);
}

/* LLVMFuzzerTestOneInput - one configuration text */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "SecretKey " CANARY "\n";
	char *text;

	run((const char *)data, size, 0);
	if ((text = malloc(sizeof(head) - 1 + size + 1)) == NULL)
		return 0;
	memcpy(text, head, sizeof(head) - 1);
	memcpy(text + sizeof(head) - 1, data, size);
	text[sizeof(head) - 1 + size] = 0;
	/* an input that spells the canary itself may legitimately echo it */
	run(text, sizeof(head) - 1 + size, memmem(data, size, CANARY, sizeof(CANARY) - 1) == NULL);
	free(text);
	return 0;
}
