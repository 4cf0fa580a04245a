/* Callgrind client requests for harness/callgrind.py, loaded with ctypes.
 *
 * Outside valgrind every request is a no-op of a few instructions (valgrind.h's
 * magic sequence), so the helper is harmless in a normal process.
 * Built at first use with the system C compiler; needs <valgrind/callgrind.h>
 * (Debian: apt-get install valgrind).
 */
#include <valgrind/callgrind.h>

/* 0 outside valgrind, else the number of valgrinds the process runs under. */
int continuum_running_on_valgrind(void) { return RUNNING_ON_VALGRIND; }

/* Start counting: instrument (a no-op where instrumentation is on from the start), drop
 * whatever was counted so far, then switch collection on. */
void continuum_count_start(void) {
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
}

/* Stop counting (collection off); nothing is counted from here until the next start. */
void continuum_count_stop(void) { CALLGRIND_TOGGLE_COLLECT; }

/* Write the counts since the last start into a dump file labelled `label`, zero them, and stop
 * instrumenting: outside regions the process runs at valgrind's plain speed (--instr-atstart=no). */
void continuum_count_dump(const char *label) {
    CALLGRIND_DUMP_STATS_AT(label);
    CALLGRIND_STOP_INSTRUMENTATION;
}

/* CPU features as the running process sees them (under valgrind: valgrind's virtual
 * CPU, which decides the kernels XNNPACK and OpenSSL pick there). Bit i is feature i
 * of CONTINUUM_FEATURES in callgrind.py; keep the two lists in the same order. */
unsigned int continuum_cpu_features(void) {
    unsigned int bits = 0;
    __builtin_cpu_init();
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("sse4.2")) bits |= 1u << 0;
    if (__builtin_cpu_supports("avx")) bits |= 1u << 1;
    if (__builtin_cpu_supports("avx2")) bits |= 1u << 2;
    if (__builtin_cpu_supports("fma")) bits |= 1u << 3;
    if (__builtin_cpu_supports("f16c")) bits |= 1u << 4;
    if (__builtin_cpu_supports("avx512f")) bits |= 1u << 5;
    if (__builtin_cpu_supports("avx512bw")) bits |= 1u << 6;
    if (__builtin_cpu_supports("avx512vl")) bits |= 1u << 7;
    if (__builtin_cpu_supports("avx512vnni")) bits |= 1u << 8;
    if (__builtin_cpu_supports("aes")) bits |= 1u << 9;
    if (__builtin_cpu_supports("pclmul")) bits |= 1u << 10;
#endif
    return bits;
}
