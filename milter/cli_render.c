/*
 * cli_render.c - what sesverify prints: the human tables and the --json
 *	documents of check, precheck and list.
 *	Owns the layout of both renderings (DESIGN.md's JSON contract).
 *	Does not own JSON string escaping: every string goes through the
 *	library's one writer, sv_json_quote (invalid UTF-8 becomes U+FFFD),
 *	so the CLI's documents follow the same rules as the milter's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* json_str - write s as a JSON string (NULL as null), by sv_json_quote */
static void json_str(FILE *fp, const char *s)
{
	char *q = sv_json_quote(s);

	if (!q) {
		cli_warn("out of memory");
		exit(EXIT_TROUBLE);
	}
	fputs(q, fp);
	free(q);
}

/* json_key - ,"key": (first: no comma) */
static void json_key(FILE *fp, int *first, const char *key)
{
	if (!*first)
		fputc(',', fp);
	*first = 0;
	json_str(fp, key);
	fputc(':', fp);
}

/* json_open_domain - "{" and the fields every per-domain object starts with */
static void json_open_domain(FILE *fp, int *first, const char *domain, const char *state,
                             int verified, const char *request_id)
{
	fputc('{', fp);
	json_key(fp, first, "domain");
	json_str(fp, domain);
	json_key(fp, first, "state");
	json_str(fp, state);
	json_key(fp, first, "verified");
	fputs(verified ? "true" : "false", fp);
	json_key(fp, first, "request_id");
	json_str(fp, request_id);
}

/* json_error - "error": {"code","message"[,"class"]} or null */
static void json_error(FILE *fp, const char *code, const char *message, const char *cls)
{
	int first = 1;

	if (!code || !*code) {
		fputs("null", fp);
		return;
	}
	fputc('{', fp);
	json_key(fp, &first, "code");
	json_str(fp, code);
	json_key(fp, &first, "message");
	json_str(fp, message ? message : "");
	if (cls) {
		json_key(fp, &first, "class");
		json_str(fp, cls);
	}
	fputc('}', fp);
}

/* live_item - the pre-check item for attribute i, if the pre-check ran */
static const sv_pc_item *live_item(const checked *c, size_t i)
{
	size_t k;

	if (!c->have_pc)
		return NULL;
	if (i < c->pc.nitems && c->pc.items[i].attr.send_domain &&
	    strcasecmp(c->pc.items[i].attr.send_domain, c->id.attrs[i].send_domain) == 0 &&
	    strcmp(c->pc.items[i].attr.type, c->id.attrs[i].type) == 0)
		return &c->pc.items[i];
	for (k = 0; k < c->pc.nitems; k++)
		if (c->pc.items[k].attr.send_domain &&
		    strcasecmp(c->pc.items[k].attr.send_domain, c->id.attrs[i].send_domain) == 0 &&
		    strcmp(c->pc.items[k].attr.type, c->id.attrs[i].type) == 0 &&
		    c->pc.items[k].attr.expected && c->id.attrs[i].expected &&
		    strcmp(c->pc.items[k].attr.expected, c->id.attrs[i].expected) == 0)
			return &c->pc.items[k];
	return NULL;
}

/* print_attr_table - TYPE NAME OK EXPECTED CURRENT [DNS], full values under failures */
static void print_attr_table(const checked *c)
{
	const sv_identity *id = &c->id;
	char b1[SHOW_WIDTH + 8], b2[SHOW_WIDTH + 8];
	int w = 4;
	size_t i;

	for (i = 0; i < id->nattrs; i++)
		if (id->attrs[i].send_domain && (int)strlen(id->attrs[i].send_domain) > w)
			w = (int)strlen(id->attrs[i].send_domain);
	printf("  %-5s %-*s %-4s %-*s %-*s%s\n", "TYPE", w, "NAME", "OK", SHOW_WIDTH, "EXPECTED",
	       c->have_pc ? SHOW_WIDTH : 0, "CURRENT (SES)", c->have_pc ? " DNS NOW" : "");
	for (i = 0; i < id->nattrs; i++) {
		const sv_attr *a = &id->attrs[i];
		const sv_pc_item *live = live_item(c, i);
		const char *exp = a->expected ? a->expected : "";
		const char *cur = a->current && *a->current ? a->current : "(none)";

		if (a->current && strcmp(a->current, exp) == 0)
			cur = "(same)";
		printf("  %-5s %-*s %-4s %-*s %-*s", a->type, w,
		       a->send_domain ? a->send_domain : "", a->status ? "ok" : "FAIL", SHOW_WIDTH,
		       cli_shorten(exp, SHOW_WIDTH, b1, sizeof(b1)), c->have_pc ? SHOW_WIDTH : 0,
		       cli_shorten(cur, SHOW_WIDTH, b2, sizeof(b2)));
		if (c->have_pc)
			printf(" %s", live ? sv_pc_verdict_name(live->verdict) : "-");
		putchar('\n');
		if (a->status)
			continue;
		printf("        expected: %s\n", exp);
		printf("        current:  %s\n", a->current && *a->current ? a->current : "(none)");
		if (live)
			printf("        dns now:  %s%s%s\n",
			       live->attr.current && *live->attr.current ? live->attr.current
			                                                 : "(none)",
			       live->detail ? " -- " : "", live->detail ? live->detail : "");
	}
}

/* render_checked_human - one domain of "check" for people */
void render_checked_human(const checked *c)
{
	const sv_identity *id = &c->id;

	printf("%s: %s", id->domain, sv_state_name(id->state));
	if (id->state == SV_STATE_NOT_EXIST)
		printf(" (not set up in Tencent Cloud SES)");
	if (id->state == SV_STATE_ERROR || (id->error_code[0] && id->state != SV_STATE_NOT_EXIST))
		printf(" %s: %s [%s]", id->error_code[0] ? id->error_code : "error",
		       id->error_message ? id->error_message : "no answer",
		       sv_error_class_name(id->error_class));
	if (id->request_id[0])
		printf(" (RequestId %s)", id->request_id);
	putchar('\n');
	if (id->nattrs > 0)
		print_attr_table(c);
	if (c->have_pc && c->pc.verdict != SV_PRECHECK_MATCHES)
		printf("  dns: %s%s%s\n", sv_precheck_verdict_name(c->pc.verdict),
		       c->pc.error ? ": " : "", c->pc.error ? c->pc.error : "");
}

/* print_attr_json - one attribute object; live may be NULL */
static void print_attr_json(FILE *fp, const sv_attr *a, const sv_pc_item *live)
{
	int first = 1;

	fputc('{', fp);
	json_key(fp, &first, "type");
	json_str(fp, a->type);
	json_key(fp, &first, "send_domain");
	json_str(fp, a->send_domain ? a->send_domain : "");
	json_key(fp, &first, "expected");
	json_str(fp, a->expected ? a->expected : "");
	json_key(fp, &first, "current");
	json_str(fp, a->current ? a->current : "");
	json_key(fp, &first, "status");
	fputs(a->status ? "true" : "false", fp);
	if (live) {
		json_key(fp, &first, "dns");
		fputs("{\"verdict\":", fp);
		json_str(fp, sv_pc_verdict_name(live->verdict));
		fputs(",\"current\":", fp);
		json_str(fp, live->attr.current);
		fprintf(fp, ",\"rcode\":%d,\"detail\":", live->rcode);
		json_str(fp, live->detail);
		fputc('}', fp);
	}
	fputc('}', fp);
}

/* render_checked_json - one domain of "check" as a JSON object */
void render_checked_json(FILE *fp, const checked *c)
{
	const sv_identity *id = &c->id;
	int first = 1;
	size_t i;

	json_open_domain(fp, &first, id->domain, sv_state_name(id->state),
	                 id->state == SV_STATE_VERIFIED, id->request_id[0] ? id->request_id : NULL);
	json_key(fp, &first, "attributes");
	fputc('[', fp);
	for (i = 0; i < id->nattrs; i++) {
		if (i)
			fputc(',', fp);
		print_attr_json(fp, &id->attrs[i], live_item(c, i));
	}
	fputc(']', fp);
	json_key(fp, &first, "error");
	json_error(fp, id->error_code, id->error_message,
	           id->error_code[0] ? sv_error_class_name(id->error_class) : NULL);
	if (id->http_status) {
		json_key(fp, &first, "http_status");
		fprintf(fp, "%ld", id->http_status);
	}
	json_key(fp, &first, "dns_verdict");
	json_str(fp, c->have_pc ? sv_precheck_verdict_name(c->pc.verdict) : NULL);
	fputc('}', fp);
}

/* precheck_state - the DNS verdict read as a state for the JSON contract */
static const char *precheck_state(sv_precheck_verdict v)
{
	switch (v) {
	case SV_PRECHECK_MATCHES:
		return "verified";
	case SV_PRECHECK_LACKS:
		return "unverified";
	case SV_PRECHECK_NXDOMAIN:
		return "not_exist";
	case SV_PRECHECK_EXISTS:
		return "unknown";
	default:
		return "error";
	}
}

/* render_precheck_human - verdict line, record table, SPF advice */
void render_precheck_human(const sv_precheck_result *r, const char *spf_include)
{
	char b1[SHOW_WIDTH + 8], b2[SHOW_WIDTH + 8];
	int w = 4;
	size_t i;

	printf("%s: %s (%.1f ms)%s%s\n", r->domain, sv_precheck_verdict_name(r->verdict),
	       (double)r->elapsed_us / 1000.0, r->error ? ": " : "", r->error ? r->error : "");
	for (i = 0; i < r->nitems; i++)
		if (r->items[i].attr.send_domain && (int)strlen(r->items[i].attr.send_domain) > w)
			w = (int)strlen(r->items[i].attr.send_domain);
	if (r->nitems > 0)
		printf("  %-5s %-*s %-9s %-*s %s\n", "TYPE", w, "NAME", "OK", SHOW_WIDTH,
		       "EXPECTED", "CURRENT");
	for (i = 0; i < r->nitems; i++) {
		const sv_pc_item *it = &r->items[i];
		const char *exp = it->attr.expected ? it->attr.expected : "";
		const char *cur =
		    it->attr.current && *it->attr.current ? it->attr.current : "(none)";

		printf("  %-5s %-*s %-9s %-*s %s\n", it->attr.type, w,
		       it->attr.send_domain ? it->attr.send_domain : "",
		       it->verdict == SV_PC_MATCH ? "ok" : sv_pc_verdict_name(it->verdict),
		       SHOW_WIDTH, cli_shorten(exp, SHOW_WIDTH, b1, sizeof(b1)),
		       it->verdict == SV_PC_MATCH ? "(same)"
		                                  : cli_shorten(cur, SHOW_WIDTH, b2, sizeof(b2)));
		if (it->verdict == SV_PC_MATCH)
			continue;
		printf("        expected: %s\n", exp);
		printf("        current:  %s%s%s\n", cur, it->detail ? " -- " : "",
		       it->detail ? it->detail : "");
	}
	if (r->verdict == SV_PRECHECK_NXDOMAIN || r->verdict == SV_PRECHECK_UNAVAILABLE)
		return;
	if (r->spf_record)
		printf("  spf: %s (%s %s)\n", r->spf_record, r->spf_has_include ? "has" : "LACKS",
		       spf_include ? spf_include : "include:qcloudmail.com");
	else
		printf("  spf: no SPF record (advice: publish one with %s)\n",
		       spf_include ? spf_include : "include:qcloudmail.com");
}

/* render_precheck_json - one pre-check result as a JSON object */
void render_precheck_json(FILE *fp, const sv_precheck_result *r)
{
	int first = 1;
	size_t i;

	json_open_domain(fp, &first, r->domain, precheck_state(r->verdict),
	                 r->verdict == SV_PRECHECK_MATCHES, NULL);
	json_key(fp, &first, "verdict");
	json_str(fp, sv_precheck_verdict_name(r->verdict));
	json_key(fp, &first, "attributes");
	fputc('[', fp);
	for (i = 0; i < r->nitems; i++) {
		const sv_pc_item *it = &r->items[i];
		int f2 = 1;

		if (i)
			fputc(',', fp);
		fputc('{', fp);
		json_key(fp, &f2, "type");
		json_str(fp, it->attr.type);
		json_key(fp, &f2, "send_domain");
		json_str(fp, it->attr.send_domain ? it->attr.send_domain : "");
		json_key(fp, &f2, "expected");
		json_str(fp, it->attr.expected ? it->attr.expected : "");
		json_key(fp, &f2, "current");
		json_str(fp, it->attr.current ? it->attr.current : "");
		json_key(fp, &f2, "status");
		fputs(it->verdict == SV_PC_MATCH ? "true" : "false", fp);
		json_key(fp, &f2, "verdict");
		json_str(fp, sv_pc_verdict_name(it->verdict));
		json_key(fp, &f2, "rcode");
		fprintf(fp, "%d", it->rcode);
		json_key(fp, &f2, "detail");
		json_str(fp, it->detail);
		fputc('}', fp);
	}
	fputc(']', fp);
	json_key(fp, &first, "spf_record");
	json_str(fp, r->spf_record);
	json_key(fp, &first, "spf_has_include");
	fputs(r->spf_has_include ? "true" : "false", fp);
	json_key(fp, &first, "elapsed_ms");
	fprintf(fp, "%.3f", (double)r->elapsed_us / 1000.0);
	json_key(fp, &first, "error");
	if (r->verdict == SV_PRECHECK_UNAVAILABLE)
		json_error(fp, "dns_unavailable", r->error ? r->error : "DNS unavailable", NULL);
	else
		fputs("null", fp);
	fputc('}', fp);
}

/* render_list_human - NAME and SENDING ENABLED of every identity */
void render_list_human(const sv_listed *items, size_t n)
{
	size_t i;
	int w = 4;

	for (i = 0; i < n; i++)
		if ((int)strlen(items[i].name) > w)
			w = (int)strlen(items[i].name);
	printf("%-*s %s\n", w, "NAME", "SENDING ENABLED");
	for (i = 0; i < n; i++)
		printf("%-*s %s\n", w, items[i].name, items[i].sending_enabled ? "yes" : "no");
	printf("(%zu identit%s)\n", n, n == 1 ? "y" : "ies");
}

/* render_list_json - every identity as check's JSON object (no attributes) */
void render_list_json(FILE *fp, const sv_listed *items, size_t n)
{
	size_t i;

	fputc('[', fp);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{\"domain\":", i ? "," : "");
		json_str(fp, items[i].name);
		fprintf(fp,
		        ",\"state\":\"%s\",\"verified\":%s,\"sending_enabled\":%s,"
		        "\"request_id\":null,\"attributes\":[],\"error\":null}",
		        items[i].sending_enabled ? "verified" : "unverified",
		        items[i].sending_enabled ? "true" : "false",
		        items[i].sending_enabled ? "true" : "false");
	}
	fputs("]\n", fp);
}

/* render_list_error_json - a failed list as one error object in an array */
void render_list_error_json(FILE *fp, const sv_identity *fail)
{
	fputs("[{\"domain\":null,\"state\":\"error\",\"verified\":false,\"request_id\":", fp);
	json_str(fp, fail->request_id[0] ? fail->request_id : NULL);
	fputs(",\"attributes\":[],\"error\":", fp);
	json_error(fp, fail->error_code[0] ? fail->error_code : "error", fail->error_message,
	           sv_error_class_name(fail->error_class));
	fputs("}]\n", fp);
}
