/*
 * compat.h - the one place for compiler- and platform-specific helpers.
 *	Internal; not installed.
 */
#ifndef SV_COMPAT_H
#define SV_COMPAT_H

#if defined(__GNUC__) || defined(__clang__)
#define SV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SV_UNUSED       __attribute__((unused))
#define SV_EXPORT       __attribute__((visibility("default")))
#define SV_LIKELY(x)    __builtin_expect(!!(x), 1)
#define SV_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#else
#define SV_PRINTF(f, a)
#define SV_UNUSED
#define SV_EXPORT
#define SV_LIKELY(x)   (x)
#define SV_UNLIKELY(x) (x)
#endif

#define SV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
