#!/bin/bash
# tests/security/test-soak.sh - the soak of soak.sh, cut to fit "make check":
# 100 concurrent milter connections for 20 s (SOAK_SECS) of rounds, the
# emulator failing 10% of API requests, the pre-check's nameserver silent
# so that every expiry goes to the faulty API.  Same checks as the long
# run: every message answered, zero wrong decisions, the same worker from
# start to end, heap growth below 5% (not under the sanitizers: ASan's
# allocator is not glibc's, so mallinfo2 says nothing there), the API
# exercised and faulted, never more than 20 requests in a second.
# The issue-sized run (500 connections, 5 minutes) is by hand: see
# tests/security/README.md.
export SOAK_SECS=${SOAK_SECS:-20}
exec bash "$top_srcdir/tests/security/soak.sh" 100 20000 0.1
