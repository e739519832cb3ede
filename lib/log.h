/*
 * log.h - internal diagnostics of libsesverify.
 *	sv_log() formats a message and hands it to the handler installed with
 *	sv_log_set_handler().  Callers must never pass secrets (SecretKey,
 *	tokens, Authorization headers) to it.
 */
#ifndef SV_LOG_H
#define SV_LOG_H

#include "compat.h"
#include "sesverify.h"

void sv_log(int level, const char *fmt, ...) SV_PRINTF(2, 3);
/* sv_log_enabled - whether a message of this level would be delivered */
int sv_log_enabled(int level);

#endif
