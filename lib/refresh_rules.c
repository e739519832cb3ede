/*
 * refresh_rules.c - what one refresher job does with a domain (see
 *	refresher.h for the rules, refresh_int.h for the interface).
 *	Owns the order of DNS pre-check, identity list and API call for one
 *	domain, and every answer it stores.  It reaches the identity list
 *	through sv_idlist_check and the job queue through the grant hook
 *	only; it does not store records itself (cache*.c), does not decide
 *	TTL arithmetic (cache.c) and does not pace calls (ratelimit.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dnsnorm.h"
#include "log.h"
#include "refresh_int.h"
#include "stats.h"

#define RATE_ATTEMPTS 3

/* call_update - one UpdateEmailIdentity, paced, retried on rate limits */
static void call_update(const sv_rules *r, sv_tools *w, const char *domain, sv_identity *id)
{
	uint64_t ticket = 0;

	memset(id, 0, sizeof(*id));
	for (int attempt = 0; attempt < RATE_ATTEMPTS; attempt++) {
		sv_identity_clear(id);
		if (!w->client) {
			sv_tools_no_client(w, domain, id);
			return;
		}
		if (r->grant(w, &ticket) < 0) {
			snprintf(id->domain, sizeof(id->domain), "%s", domain);
			id->state = SV_STATE_ERROR;
			snprintf(id->error_code, sizeof(id->error_code), "Shutdown");
			id->error_class = SV_ECLASS_RETRYABLE;
			return;
		}
		sv_client_update_identity(w->client, domain, id);
		sv_ratelimit_done(r->rl, ticket);
		if (id->error_class != SV_ECLASS_RATE_LIMITED)
			return;
		sv_stat_inc(r->st->rate_limited, 1);
		sv_ratelimit_penalize(r->rl);
	}
}

/* sv_refresh_store - put the new record and log what happened */
void sv_refresh_store(const sv_rules *r, const char *domain, sv_cache_rec *rec)
{
	if (sv_cache_put(r->cache, domain, rec) < 0)
		sv_log(SV_LOG_WARNING, "%s: cannot store the cache record (out of memory?)",
		       domain);
}

/* api_refresh - call the API and fold the answer into rec */
static void api_refresh(const sv_rules *r, sv_tools *w, const char *domain, sv_cache_rec *rec,
                        const sv_cache_ttl *t)
{
	sv_identity id;
	sv_cache_rec s;
	int64_t now;
	int lease = -1;

	if (r->env->shared_lease &&
	    (lease = r->env->shared_lease(r->env->shared_arg, domain, rec, &s)) == 1) {
		s.flags |= rec->flags & ~(unsigned)SV_REC_PERSIST_MASK;
		sv_cache_rec_clear(rec);
		*rec = s; /* another host asked SES meanwhile: its answer, no call */
		return;
	}
	call_update(r, w, domain, &id);
	now = sv_cache_now_ms();
	if (id.error_class == SV_ECLASS_NOT_EXIST || id.state == SV_STATE_NOT_EXIST) {
		id.state = SV_STATE_NOT_EXIST;
		sv_cache_apply_answer(rec, &id, now, t);
		if (r->env->shared_put)
			r->env->shared_put(r->env->shared_arg, domain, rec);
	} else if (id.error_class == SV_ECLASS_NONE &&
	           (id.state == SV_STATE_VERIFIED || id.state == SV_STATE_UNVERIFIED)) {
		sv_cache_apply_answer(rec, &id, now, t);
		if (r->env->shared_put)
			r->env->shared_put(r->env->shared_arg, domain, rec);
	} else {
		if (!id.error_code[0])
			snprintf(id.error_code, sizeof(id.error_code), "Transport.Failed");
		if (id.error_class == SV_ECLASS_CONFIG)
			sv_errlog_config(r->log, "UpdateEmailIdentity", &id);
		else
			sv_log(SV_LOG_INFO, "%s: UpdateEmailIdentity failed (%s): %s%s%s", domain,
			       sv_error_class_name(id.error_class), id.error_code,
			       id.error_message ? ": " : "",
			       id.error_message ? id.error_message : "");
		sv_cache_apply_error(rec, &id, now, t, sv_tools_rand(w));
	}
	sv_log(SV_LOG_DEBUG, "%s: API says %s (RequestId %s)", domain, sv_state_name(rec->state),
	       id.request_id[0] ? id.request_id : "-");
	sv_identity_clear(&id);
	if (lease == 0)
		r->env->shared_unlease(r->env->shared_arg, domain); /* the answer is in Redis */
}

/* precheck - run the DNS pre-check; the verdict, or UNAVAILABLE */
static sv_precheck_verdict precheck(sv_tools *w, const char *domain, const sv_cache_rec *rec)
{
	sv_precheck_result pc;
	sv_precheck_verdict v;

	if (!w->res)
		return SV_PRECHECK_UNAVAILABLE;
	memset(&pc, 0, sizeof(pc));
	if (sv_precheck(w->res, domain, rec ? rec->attrs : NULL, rec ? rec->nattrs : 0, &pc) < 0)
		v = SV_PRECHECK_UNAVAILABLE;
	else
		v = pc.verdict;
	sv_precheck_result_clear(&pc);
	return v;
}

/*
 * values_unchanged - does every value SES listed (a comma/space separated
 *	list of host names or addresses, MX preferences skipped) still appear
 *	in the live list?  False when SES listed none.
 */
static int values_unchanged(const char *ses, const char *live, int hosts)
{
	char *sv = strdup(ses), *s1, *t;
	int found = 0, all = sv != NULL;

	for (t = sv ? strtok_r(sv, ", \t", &s1) : NULL; t && all; t = strtok_r(NULL, ", \t", &s1)) {
		char *lv, *s2, *u;
		int hit = 0;
		if (t[strspn(t, "0123456789")] == 0)
			continue; /* an MX preference */
		found = 1;
		if ((lv = strdup(live)) == NULL)
			break;
		for (u = strtok_r(lv, ", \t", &s2); u && !hit; u = strtok_r(NULL, ", \t", &s2))
			hit = hosts ? dnsnorm_host_equal(t, u) : strcmp(t, u) == 0;
		free(lv);
		all = hit;
	}
	free(sv);
	return found && all;
}

/*
 * attr_unchanged - is a failing record's live answer still the one SES saw?
 *	Missing now and SES saw nothing, or the same value (TXT with white
 *	space runs collapsed; host names and addresses as sets).
 */
static int attr_unchanged(const sv_attr *ses, const sv_pc_item *it)
{
	const char *was = ses->current ? ses->current : "";
	const char *now = it->attr.current ? it->attr.current : "";

	if (it->verdict == SV_PC_MISSING)
		return was[0] == 0;
	if (it->verdict != SV_PC_MISMATCH || was[0] == 0)
		return 0;
	if (strcasecmp(ses->type, "TXT") == 0)
		return dnsnorm_txt_equal(was, now);
	if (strcasecmp(ses->type, "CNAME") == 0)
		return dnsnorm_host_equal(was, now);
	return values_unchanged(was, now, strcasecmp(ses->type, "MX") == 0);
}

/*
 * precheck_failing - the pre-check of an unverified answer
 *	Only the records SES reported as failing (Status false) are judged:
 *	SES's own comparison decides the others, and the pre-check's rules are
 *	stricter than SES's (an SPF record ending "-all", another MX).  LACKS
 *	when one of them is still missing or wrong exactly as SES saw it (an
 *	API call cannot change the answer); MATCHES when every one of them
 *	now matches or changed since SES's answer; NXDOMAIN and UNAVAILABLE
 *	as sv_precheck says; EXISTS when SES reported no failing record.
 */
static sv_precheck_verdict precheck_failing(sv_tools *w, const char *domain,
                                            const sv_cache_rec *rec)
{
	sv_attr failing[SV_ATTR_MAX];
	sv_precheck_result pc;
	sv_precheck_verdict v;
	size_t n = 0;

	if (!w->res)
		return SV_PRECHECK_UNAVAILABLE;
	for (size_t i = 0; i < rec->nattrs && n < SV_ATTR_MAX; i++)
		if (!rec->attrs[i].status)
			failing[n++] = rec->attrs[i]; /* sv_precheck copies what it keeps */
	memset(&pc, 0, sizeof(pc));
	if (sv_precheck(w->res, domain, failing, n, &pc) < 0) {
		v = SV_PRECHECK_UNAVAILABLE;
	} else if ((v = pc.verdict) == SV_PRECHECK_LACKS) {
		v = SV_PRECHECK_MATCHES;
		for (size_t i = 0; i < pc.nitems && i < n; i++)
			if (pc.items[i].verdict != SV_PC_MATCH &&
			    attr_unchanged(&failing[i], &pc.items[i]))
				v = SV_PRECHECK_LACKS;
	}
	sv_precheck_result_clear(&pc);
	return v;
}

/* apply_nxdomain - the domain is not in DNS: not_exist without an API call, coded as such */
static void apply_nxdomain(const sv_rules *r, sv_cache_rec *rec, const sv_cache_ttl *t)
{
	sv_stat_inc(r->st->saved_precheck, 1);
	sv_cache_apply_not_exist(rec, "domain does not exist in DNS (NXDOMAIN)", sv_cache_now_ms(),
	                         t);
	snprintf(rec->error_code, sizeof(rec->error_code), "%s", SV_ECODE_NXDOMAIN);
}

/* refresh_answered - verified/unverified: pre-check may spare the call */
static void refresh_answered(const sv_rules *r, sv_tools *w, const char *domain, sv_cache_rec *rec,
                             const sv_cache_ttl *t)
{
	sv_precheck_verdict v = rec->state == SV_STATE_UNVERIFIED ? precheck_failing(w, domain, rec)
	                                                          : precheck(w, domain, rec);
	int64_t now = sv_cache_now_ms();

	if (v == SV_PRECHECK_NXDOMAIN) {
		apply_nxdomain(r, rec, t);
		return;
	}
	if (rec->nattrs > 0 && ((rec->state == SV_STATE_VERIFIED && v == SV_PRECHECK_MATCHES) ||
	                        (rec->state == SV_STATE_UNVERIFIED && v == SV_PRECHECK_LACKS))) {
		if (sv_cache_apply_extend(rec, now, t) == 0) {
			sv_stat_inc(r->st->saved_precheck, 1);
			sv_stat_inc(r->st->extended, 1);
			return;
		}
	}
	api_refresh(r, w, domain, rec, t);
}

/*
 * last_enabled - did the last list that held domain call it enabled?
 *	The list fetched during this job may have marked the record
 *	(mark_dropped) after rec was read: look again.
 */
static int last_enabled(const sv_rules *r, const char *domain, const sv_cache_rec *rec)
{
	sv_cache_rec now;
	int enabled = (rec->flags & SV_REC_ENABLED) != 0;

	if (!enabled && sv_cache_get(r->cache, domain, &now) == 0) {
		enabled = (now.flags & SV_REC_ENABLED) != 0;
		sv_cache_rec_clear(&now);
	}
	return enabled;
}

/*
 * refresh_existence - never-seen, not_exist, error records
 *	Absent from the list: not_exist; listed with SendingEnabled: verified;
 *	listed otherwise (or no list): NXDOMAIN makes not_exist, else one
 *	UpdateEmailIdentity learns state and attributes.
 */
static void refresh_existence(const sv_rules *r, sv_tools *w, const char *domain, int64_t since,
                              sv_cache_rec *rec, const sv_cache_ttl *t)
{
	int l = sv_idlist_check(r->list, w, domain, 0, since);

	if (l == SV_L_ABSENT && last_enabled(r, domain, rec)) {
		/* SES last called it verified: one UpdateEmailIdentity confirms
		 * the list before anything says "not set up" */
		sv_log(SV_LOG_NOTICE,
		       "%s: absent from ListEmailIdentities but last listed as enabled; asking "
		       "UpdateEmailIdentity",
		       domain);
		rec->flags |= SV_REC_LISTED | SV_REC_ENABLED; /* kept until SES answers */
		api_refresh(r, w, domain, rec, t);
		if (rec->state == SV_STATE_NOT_EXIST || rec->state == SV_STATE_UNVERIFIED)
			rec->flags &= ~(unsigned)(SV_REC_LISTED | SV_REC_ENABLED);
		return;
	}
	if (l == SV_L_ABSENT) {
		sv_stat_inc(r->st->saved_list, 1);
		sv_cache_apply_not_exist(
		    rec, "not set up in Tencent Cloud SES (absent from ListEmailIdentities)",
		    sv_cache_now_ms(), t);
		return;
	}
	if (l == SV_L_ENABLED) {
		/* SendingEnabled is VerifiedForSendingStatus: verified without a call;
		 * the attributes come with the first API refresh after VerifiedTTL */
		sv_identity id;
		memset(&id, 0, sizeof(id));
		id.state = SV_STATE_VERIFIED;
		sv_stat_inc(r->st->saved_list, 1);
		sv_cache_apply_answer(rec, &id, sv_cache_now_ms(), t);
		rec->flags |= SV_REC_LISTED | SV_REC_ENABLED;
		return;
	}
	if (precheck(w, domain, NULL) == SV_PRECHECK_NXDOMAIN) {
		apply_nxdomain(r, rec, t);
		return;
	}
	api_refresh(r, w, domain, rec, t);
}

/* sv_refresh_process - one job: the rules of DESIGN.md for domain, its answer stored */
void sv_refresh_process(const sv_rules *r, sv_tools *w, const char *domain, unsigned flags,
                        int64_t since)
{
	sv_cache_rec rec;
	sv_cache_ttl t;

	t = r->ttl(r->arg);
	if (sv_cache_get(r->cache, domain, &rec) < 0)
		memset(&rec, 0, sizeof(rec));
	/* nothing to do for a fresh answer that came after the job was queued
	 * (another host's, through pub/sub), or at all when only mail waiting
	 * for a first answer asked: its lookup raced with the end of the job
	 * that answered it */
	if (!(flags & SV_JOB_FORCE) && sv_cache_rec_answered(&rec) &&
	    rec.expires_at > sv_cache_now_ms() &&
	    ((flags & SV_JOB_WAITER) || (r->env->shared_get && rec.fetched_at >= since))) {
		sv_cache_rec_clear(&rec);
		return;
	}
	if (!(flags & SV_JOB_FORCE) && r->env->shared_get) {
		sv_cache_rec s;
		if (r->env->shared_get(r->env->shared_arg, domain, &rec, &s) == 1) {
			/* another host answered it: no API call */
			s.flags |= rec.flags & ~(unsigned)SV_REC_PERSIST_MASK;
			sv_refresh_store(r, domain, &s);
			sv_cache_rec_clear(&s);
			sv_cache_rec_clear(&rec);
			return;
		}
	}
	if (flags & SV_JOB_FORCE)
		api_refresh(r, w, domain, &rec, &t);
	else if (rec.state == SV_STATE_VERIFIED || rec.state == SV_STATE_UNVERIFIED)
		refresh_answered(r, w, domain, &rec, &t);
	else
		refresh_existence(r, w, domain, since, &rec, &t);
	sv_refresh_store(r, domain, &rec);
	sv_cache_rec_clear(&rec);
}
