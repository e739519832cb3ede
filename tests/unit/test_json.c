/*
 * test_json.c - the strict JSON reader: unescaping, jsmn's pitfalls
 *	(ldns-jsmn-curl.md 3.5, every row), truncation, trailing data, sizes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

/* parses - whether text is accepted */
static int parses(const char *text)
{
	sv_json *doc;
	char err[160];
	int rc = sv_json_parse(text, strlen(text), 0, &doc, err, sizeof(err));

	sv_json_free(doc);
	return rc == 0;
}

/* str_of - decoded value of key "s" in {"s":...}, or NULL */
static char *str_of(const char *text)
{
	sv_json *doc;
	char err[160], *s = NULL;

	if (sv_json_parse(text, strlen(text), 0, &doc, err, sizeof(err)) < 0)
		return NULL;
	if (sv_json_get_string(doc, sv_json_get(doc, 0, "s"), 0, &s) < 0)
		s = NULL;
	sv_json_free(doc);
	return s;
}

static void unescape(void)
{
	static const struct {
		const char *json, *want;
	} good[] = {
	    {"{\"s\":\"plain\"}", "plain"},
	    {"{\"s\":\"\"}", ""},
	    {"{\"s\":\"q\\\"q\"}", "q\"q"},
	    {"{\"s\":\"b\\\\s\"}", "b\\s"},
	    {"{\"s\":\"a\\/b\"}", "a/b"},
	    {"{\"s\":\"\\b\\f\\n\\r\\t\"}", "\b\f\n\r\t"},
	    {"{\"s\":\"\\u0041\\u00e9\"}", "A\xc3\xa9"},
	    {"{\"s\":\"\\u00E9\"}", "\xc3\xa9"},
	    {"{\"s\":\"\\u672a\\u547d\\u540d\"}", "\xe6\x9c\xaa\xe5\x91\xbd\xe5\x90\x8d"},
	    {"{\"s\":\"\\uD83D\\uDE00\"}", "\xf0\x9f\x98\x80"},
	    {"{\"s\":\"\\udbff\\udfff\"}", "\xf4\x8f\xbf\xbf"},
	    {"{\"s\":\"\\u007f\"}", "\x7f"},
	    {"{\"s\":\"\\u0001\"}", "\x01"},
	    {"{\"s\":\"raw \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"}",
	     "raw \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"},
	    {"{\"s\":\"k=rsa;p=MIGf\\/+==\"}", "k=rsa;p=MIGf/+=="},
	};
	static const char *const bad[] = {
	    "{\"s\":\"\\uD83D\"}",          /* lone high surrogate */
	    "{\"s\":\"\\uD83Dx\"}",         /* high surrogate then text */
	    "{\"s\":\"\\uD83D\\u0041\"}",   /* high surrogate then non-low */
	    "{\"s\":\"\\uDE00\"}",          /* lone low surrogate */
	    "{\"s\":\"\\u0000\"}",          /* NUL */
	    "{\"s\":\"\\x41\"}",            /* bad escape */
	    "{\"s\":\"\\u12\"}",            /* short \u */
	    "{\"s\":\"\\u12G4\"}",          /* non-hex */
	    "{\"s\":\"\xc3\"}",             /* truncated UTF-8 */
	    "{\"s\":\"\xc0\xaf\"}",         /* overlong */
	    "{\"s\":\"\xe0\x80\xaf\"}",     /* overlong 3-byte */
	    "{\"s\":\"\xed\xa0\x80\"}",     /* UTF-8-encoded surrogate */
	    "{\"s\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
	    "{\"s\":\"\xff\"}",             /* never valid */
	    "{\"s\":\"\x80\"}",             /* stray continuation */
	    "{\"s\":\"\xe4\xb8\x41\"}",     /* 3-byte: 3rd byte not a continuation */
	    "{\"s\":\"\xe4\xb8\xc3\xa9\"}", /* 3-byte: 3rd byte a new lead byte */
	    "{\"s\":\"\xf0\x9f\x41\x80\"}", /* 4-byte: 3rd byte not a continuation */
	    "{\"s\":\"\xf0\x9f\x98\x41\"}", /* 4-byte: 4th byte not a continuation */
	    "{\"s\":\"\xf0\x9f\x98\xf0\"}", /* 4-byte: 4th byte a lead byte */
	    "{\"s\":\"tab\there\"}",        /* raw control character */
	};
	char out[16];
	size_t olen;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *s = str_of(good[i].json);
		is_str(s, good[i].want, "unescape %s", good[i].json);
		free(s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!parses(bad[i]), "refused: string #%zu", i);
	ok(sv_json_unescape("a\\u00e9", 7, out, &olen) == 0 && olen == 3 &&
	       memcmp(out, "a\xc3\xa9", 4) == 0,
	   "sv_json_unescape direct");
	ok(sv_json_unescape("a\\", 2, out, &olen) < 0, "sv_json_unescape: dangling backslash");
}

static void pitfalls(void)
{
	/* every row of the reference's jsmn pitfall table: all must be refused */
	static const char *const bad[] = {
	    "{\"a\":tru}",
	    "{\"a\":xyz}",
	    "{a:1}",
	    "{\"a\" 1}",
	    "{\"a\":1 \"b\":2}",
	    "{\"a\":[1,,2]}",
	    "{\"a\":[1,2,]}",
	    "{\"a\":1}{\"b\":2}",
	    "{\"a\":1} xyz",
	    "{\"a\":\"x\ny\"}",
	    "{\"a\":\"\\x41\"}",
	    "123",
	    "{\"a\":\"abc",
	    "",
	    "   ",
	    "[1,2]",
	    "\"str\"",
	    "{\"a\":1,}",
	    "{,\"a\":1}",
	    "{\"a\"::1}",
	    "{\"a\":1,,\"b\":2}",
	    "{\"a\":01}",
	    "{\"a\":1.}",
	    "{\"a\":.5}",
	    "{\"a\":-}",
	    "{\"a\":1e}",
	    "{\"a\":+1}",
	    "{\"a\":truex}",
	    "{\"a\":nul}",
	    "{\"a\":NaN}",
	    "{\"a\":[}",
	    "{\"a\":]}",
	    "{\"a\":{\"b\":1]}",
	    "{\"a\":1}}",
	    "{\"a\":1}\n{",
	    "x{\"a\":1}",
	};
	static const char *const good[] = {
	    "{}",
	    " \t\r\n{\"a\" : 1 , \"b\" : [ ] , \"c\" : { } } \n",
	    "{\"a\":[1,-2.5e+3,0,true,false,null,\"x\",{\"y\":[]}]}",
	    "{\"a\":-0.0e-0}",
	};
	sv_json *doc;
	char err[160];
	long long v;
	bool b;
	int t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(!parses(bad[i]), "pitfall refused: %s", bad[i]);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(parses(good[i]), "valid: %s", good[i]);

	/* duplicate keys parse, but lookups report them */
	ok(sv_json_parse("{\"a\":1,\"a\":2}", 13, 0, &doc, err, sizeof(err)) == 0,
	   "duplicate keys tokenize");
	is_int(sv_json_get(doc, 0, "a"), SV_JSON_DUPLICATE, "duplicate key reported");
	is_int(sv_json_get(doc, 0, "b"), SV_JSON_MISSING, "missing key reported");
	sv_json_free(doc);

	/* typed getters never accept a near miss */
	const char *t1 = "{\"i\":42,\"n\":-7,\"f\":1.5,\"e\":1e3,\"big\":99999999999999999999,"
	                 "\"t\":true,\"s\":\"1\",\"z\":null,\"k\\u0065y\":5}";
	ok(sv_json_parse(t1, strlen(t1), 0, &doc, err, sizeof(err)) == 0, "typed doc parses");
	ok(sv_json_get_int(doc, sv_json_get(doc, 0, "i"), &v) == 0 && v == 42, "int 42");
	ok(sv_json_get_int(doc, sv_json_get(doc, 0, "n"), &v) == 0 && v == -7, "int -7");
	ok(sv_json_get_int(doc, sv_json_get(doc, 0, "f"), &v) < 0, "1.5 is not an int");
	ok(sv_json_get_int(doc, sv_json_get(doc, 0, "e"), &v) < 0, "1e3 is not an int");
	ok(sv_json_get_int(doc, sv_json_get(doc, 0, "big"), &v) < 0, "overflow refused");
	ok(sv_json_get_int(doc, sv_json_get(doc, 0, "s"), &v) < 0, "string is not an int");
	ok(sv_json_get_bool(doc, sv_json_get(doc, 0, "t"), &b) == 0 && b, "bool true");
	ok(sv_json_get_bool(doc, sv_json_get(doc, 0, "z"), &b) < 0, "null is not a bool");
	ok(sv_json_get_bool(doc, sv_json_get(doc, 0, "i"), &b) < 0, "number is not a bool");
	is_int(sv_json_type_of(doc, sv_json_get(doc, 0, "z")), SV_JSON_NULL, "null typed");
	ok(sv_json_get_int(doc, sv_json_get(doc, 0, "key"), &v) == 0 && v == 5,
	   "escaped key matches its decoded form");
	t = sv_json_get(doc, 0, "s");
	ok(sv_json_get_string_buf(doc, t, err, 1) < 0, "string too long for buffer refused");
	sv_json_free(doc);
}

static void walking(void)
{
	const char *t = "{\"arr\":[{\"x\":[1,[2,3]]},4,{\"y\":{}}],\"after\":\"z\"}";
	sv_json *doc;
	char err[160], *s;
	int arr, i, n = 0;

	ok(sv_json_parse(t, strlen(t), 0, &doc, err, sizeof(err)) == 0, "nested parses");
	arr = sv_json_get(doc, 0, "arr");
	for (i = sv_json_next(doc, arr, -1); i >= 0; i = sv_json_next(doc, arr, i))
		n++;
	is_int(n, 3, "array iteration skips nested subtrees");
	is_int(sv_json_size(doc, 0), 2, "root has two keys");
	ok(sv_json_get_string(doc, sv_json_get(doc, 0, "after"), 0, &s) == 0 && strcmp(s, "z") == 0,
	   "key after nested array found");
	free(s);
	ok(sv_json_next(doc, sv_json_get(doc, 0, "after"), -1) < 0, "no iteration over a string");
	ok(sv_json_type_of(doc, 9999) == 0 && sv_json_type_of(doc, -5) == 0, "bad index typed 0");
	sv_json_free(doc);
}

static void sizes(void)
{
	const char *body =
	    "{\"Response\":{\"RequestId\":\"r-1\",\"VerifiedForSendingStatus\":true}}";
	size_t len = strlen(body), big = 2 * 1024 * 1024, i;
	sv_json *doc;
	char err[160], *buf;
	int all = 1;

	/* every proper prefix of a valid body is refused */
	for (i = 0; i < len; i++) {
		if (sv_json_parse(body, i, 0, &doc, err, sizeof(err)) == 0) {
			all = 0;
			sv_json_free(doc);
			diag("prefix of %zu bytes accepted", i);
		}
	}
	ok(all, "all %zu truncations refused", len);
	ok(sv_json_parse(body, len, 0, &doc, err, sizeof(err)) == 0, "whole body accepted");
	sv_json_free(doc);
	ok(sv_json_parse(body, len, 10, &doc, err, sizeof(err)) < 0 && strstr(err, "too large"),
	   "size cap enforced: %s", err);

	/* embedded NUL: jsmn stops there; the rest must count as garbage */
	ok(sv_json_parse("{\"a\":1}\0{", 9, 0, &doc, err, sizeof(err)) < 0, "NUL then garbage");
	ok(sv_json_parse("{\"a\":\"x\0y\"}", 11, 0, &doc, err, sizeof(err)) < 0, "NUL in string");

	/* huge inputs: deep nesting, many tokens, over the default cap */
	buf = malloc(big + 1);
	memset(buf, '[', big);
	buf[0] = '{';
	buf[big] = 0;
	ok(sv_json_parse(buf, 1000, 0, &doc, err, sizeof(err)) < 0, "unterminated nesting refused");
	{
		size_t o = 0;
		o += (size_t)sprintf(buf + o, "{\"a\":");
		for (i = 0; i < 100; i++)
			buf[o++] = '[';
		for (i = 0; i < 100; i++)
			buf[o++] = ']';
		buf[o++] = '}';
		ok(sv_json_parse(buf, o, 0, &doc, err, sizeof(err)) < 0 && strstr(err, "nesting"),
		   "nesting beyond %d refused: %s", SV_JSON_MAX_DEPTH, err);
	}
	{
		size_t o = 0, nel = 0;
		o += (size_t)sprintf(buf + o, "{\"a\":[");
		while (o < 1000000) {
			buf[o++] = '1';
			buf[o++] = ',';
			nel++;
		}
		buf[o - 1] = ']';
		buf[o++] = '}';
		ok(sv_json_parse(buf, o, 0, &doc, err, sizeof(err)) == 0, "500k tokens parse");
		is_int(sv_json_size(doc, sv_json_get(doc, 0, "a")), nel, "array size counted");
		sv_json_free(doc);
	}
	ok(sv_json_parse(buf, big, 0, &doc, err, sizeof(err)) < 0, "2 MiB refused by default cap");
	free(buf);
}

int main(void)
{
	unescape();
	pitfalls();
	walking();
	sizes();
	return tap_done();
}
