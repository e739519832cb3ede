/*
 * test_jsonstr.c - the one JSON string writer of the tree: sv_buf_json_string
 *	(daemon, library) and sv_json_quote (its public face, used by the CLI).
 *	Every output must be valid JSON text in valid UTF-8, whatever the input.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sesverify.h"
#include "tap.h"

/* quoted - sv_buf_json_string(s) as a malloc'd string */
static char *quoted(const char *s)
{
	sv_buf b;
	char *r;

	sv_buf_init(&b, 0);
	sv_buf_json_string(&b, s);
	r = strdup(b.data ? b.data : "");
	sv_buf_free(&b);
	return r;
}

static const struct {
	const char *in, *want, *what;
} cases[] = {
    {"plain", "\"plain\"", "ASCII unchanged"},
    {"a\"b\\c", "\"a\\\"b\\\\c\"", "quote and backslash escaped"},
    {"a\nb\x01", "\"a\\u000ab\\u0001\"", "control bytes as \\u00XX"},
    {"\x7f", "\"\\u007f\"", "DEL escaped"},
    {"b\xc3\xbc"
     "cher",
     "\"b\xc3\xbc"
     "cher\"",
     "valid 2-byte UTF-8 kept"},
    {"\xe4\xbe\x8b", "\"\xe4\xbe\x8b\"", "valid 3-byte UTF-8 kept"},
    {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"", "valid 4-byte UTF-8 kept"},
    {"a\xff"
     "b",
     "\"a\\ufffdb\"", "invalid byte 0xff replaced by U+FFFD"},
    {"\x80", "\"\\ufffd\"", "lone continuation byte replaced"},
    {"\xc3", "\"\\ufffd\"", "truncated sequence at the end replaced"},
    {"\xc3(", "\"\\ufffd(\"", "truncated sequence before ASCII: one U+FFFD, ASCII kept"},
    {"\xc0\xaf", "\"\\ufffd\\ufffd\"", "overlong encoding replaced byte by byte"},
    {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "encoded surrogate replaced"},
    {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "beyond U+10FFFF replaced"},
};

/* the two faces of the writer: both must give the same answers */
static const struct {
	const char *name;
	char *(*quote)(const char *s);
} writers[] = {{"sv_buf_json_string", quoted}, {"sv_json_quote", sv_json_quote}};

int main(void)
{
	size_t i, w;

	for (w = 0; w < sizeof(writers) / sizeof(writers[0]); w++) {
		char *got;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			got = writers[w].quote(cases[i].in);
			is_str(got, cases[i].want, "%s: %s", writers[w].name, cases[i].what);
			free(got);
		}
		got = writers[w].quote(NULL);
		is_str(got, "null", "%s: NULL is null", writers[w].name);
		free(got);
	}
	return tap_done();
}
