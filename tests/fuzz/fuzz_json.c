/*
 * fuzz_json.c - libFuzzer target for the API response parsers.
 *	Feeds one input through sv_json_parse plus a full token walk, the
 *	UpdateEmailIdentity parser (as HTTP 200 and 500) and the
 *	ListEmailIdentities parser.  Invariant checked on every input: an
 *	answer that did not parse is never "verified".  Built by libFuzzer
 *	(see README-api) or by replay_json.c in every "make check".
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sesapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* walk - touch every token with every getter */
static void walk(const sv_json *doc, int tok, int depth)
{
	char *s = NULL, buf[16];
	long long v;
	bool b;

	if (depth > SV_JSON_MAX_DEPTH + 2)
		abort(); /* the parser promised a depth limit */
	(void)sv_json_get_int(doc, tok, &v);
	(void)sv_json_get_bool(doc, tok, &b);
	(void)sv_json_get_string_buf(doc, tok, buf, sizeof(buf));
	if (sv_json_get_string(doc, tok, 0, &s) == 0)
		free(s);
	for (int i = sv_json_next(doc, tok, -1); i >= 0; i = sv_json_next(doc, tok, i)) {
		if (sv_json_type_of(doc, tok) == SV_JSON_OBJECT) {
			walk(doc, i, depth + 1);
			walk(doc, sv_json_value(doc, i), depth + 1);
		} else {
			walk(doc, i, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	sv_listed *items = NULL;
	sv_identity id;
	sv_json *doc;
	long long total;
	size_t n = 0;
	char err[160];

	if (sv_json_parse(text, size, 0, &doc, err, sizeof(err)) == 0) {
		walk(doc, 0, 0);
		(void)sv_json_get(doc, 0, "Response");
		sv_json_free(doc);
	}
	memset(&id, 0, sizeof(id));
	if (sv_sesapi_parse_update(text, size, 200, &id) < 0 &&
	    (id.verified || id.state != SV_STATE_ERROR))
		abort();
	if (id.state == SV_STATE_VERIFIED && !id.verified)
		abort();
	sv_identity_clear(&id);
	if (sv_sesapi_parse_update(text, size, 500, &id) != -1 || id.verified)
		abort();
	sv_identity_clear(&id);
	(void)sv_sesapi_parse_list(text, size, 200, &items, &n, &total, &id);
	sv_identity_clear(&id);
	free(items);
	return 0;
}
