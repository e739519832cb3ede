/*
 * tc3sign-cli.c - run our TC3 signer on one input, for tc3-crosscheck.js.
 *	Usage: tc3sign-cli SERVICE HOST CONTENT-TYPE TIMESTAMP PAYLOAD-FILE [ACTION]
 *	The key pair comes from SV_TC3_SECRET_ID / SV_TC3_SECRET_KEY (never
 *	argv).  Prints the Authorization value; with ACTION, x-tc-action is
 *	signed too.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tc3sign.h"

/* slurp - whole file */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0 || (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

int main(int argc, char **argv)
{
	sv_tc3_input in = {0};
	sv_tc3_result r;
	char err[256], *payload, *end;
	size_t len = 0;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: %s SERVICE HOST CONTENT-TYPE TIMESTAMP FILE [ACTION]\n",
		        argv[0]);
		return 2;
	}
	if ((payload = slurp(argv[5], &len)) == NULL) {
		fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[5]);
		return 2;
	}
	in.secret_id = getenv("SV_TC3_SECRET_ID");
	in.secret_key = getenv("SV_TC3_SECRET_KEY");
	in.service = argv[1];
	in.host = argv[2];
	in.content_type = argv[3];
	in.timestamp = strtoll(argv[4], &end, 10);
	in.payload = payload;
	in.payload_len = len;
	if (argc == 7) {
		in.action = argv[6];
		in.sign_action = true;
	}
	if (*end || sv_tc3_sign(&in, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], *end ? "bad timestamp" : err);
		free(payload);
		return 1;
	}
	printf("%s\n", r.authorization);
	sv_tc3_result_clear(&r);
	free(payload);
	return 0;
}
