/*
 * The floor of the conversion benchmark: only the kernel-side work of the conversions Janus does on the software
 * KVM, in a C program with nothing else around it, so that the benchmark can report Janus / floor from one run.
 *
 *   conversion_floor MODE UNIT_BYTES UNITS_PER_THREAD CONVERSIONS THREADS
 *
 * MODE is what the software KVM's kernel does per conversion (org.janus.kvm.sim):
 *   inplace         one memfd (the guest_memfd), mapped twice: the host's mapping loses access while a page is
 *                   private and gets it back when it is shared (mprotect PROT_NONE / PROT_READ|PROT_WRITE, as
 *                   SimGuestMemfd does on KVM_SET_MEMORY_ATTRIBUTES2); the guest touches through the other mapping
 *   legacy-discard  two memfds (shared face, guest_memfd): the face a page leaves is punched
 *                   (fallocate PUNCH_HOLE|KEEP_SIZE), the new face faulted in by the guest's touch
 *   legacy-keep     the same without the punch
 * Each thread owns UNITS_PER_THREAD units of UNIT_BYTES, writes every 4 KiB page of them (populated, shared), then
 * does CONVERSIONS conversions: a unit to private, then back to shared, then the next unit, each conversion followed
 * by one write into every 4 KiB page of the unit. The kernel operation and the touch are timed apart, per conversion
 * (CLOCK_MONOTONIC); the pages each conversion allocated are counted, untimed, with SEEK_DATA/SEEK_HOLE.
 *
 * Output, one JSON object on stdout: per-conversion times in ns (op = the kernel operation, total = op + touch),
 * sorted percentiles computed here, sums, and pages allocated and freed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096L

enum mode { INPLACE, LEGACY_DISCARD, LEGACY_KEEP };

static enum mode mode;
static long unit, units, conversions;
static int threads;
static int shared_fd, private_fd;
static char *shared_map, *private_map, *host_map;

struct result {
    long *op, *total;
    long allocated, freed;
};

static void die(const char *what) {
    fprintf(stderr, "conversion_floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static long allocated(int fd, long off, long len) {
    long end = off + len, total = 0, pos = off;
    while (pos < end) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0 || data >= end) break;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0) hole = end;
        total += (hole < end ? hole : end) - data;
        pos = hole;
    }
    return total;
}

static void touch(char *base, long off, long len, long value) {
    for (long p = off; p < off + len; p += PAGE) *(volatile long *)(base + p) = value;
}

struct job { int id; struct result r; };

static void *run(void *arg) {
    struct job *j = arg;
    long first = (long)j->id * units;
    for (long u = first; u < first + units; u++) touch(mode == INPLACE ? private_map : shared_map, u * unit, unit, u);
    long u = first;
    int to_private = 1;
    for (long c = 0; c < conversions; c++) {
        long off = u * unit;
        long bs = mode == INPLACE ? 0 : allocated(shared_fd, off, unit), bp = allocated(private_fd, off, unit);
        long t0 = now();
        if (mode == INPLACE) {
            if (mprotect(host_map + off, unit, to_private ? PROT_NONE : PROT_READ | PROT_WRITE)) die("mprotect");
        } else if (mode == LEGACY_DISCARD) {
            if (fallocate(to_private ? shared_fd : private_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, unit)) die("fallocate");
        }
        long t1 = now();
        touch(mode == INPLACE ? private_map : to_private ? private_map : shared_map, off, unit, c);
        long t2 = now();
        long as = mode == INPLACE ? 0 : allocated(shared_fd, off, unit), ap = allocated(private_fd, off, unit);
        j->r.allocated += ((as > bs ? as - bs : 0) + (ap > bp ? ap - bp : 0)) / PAGE;
        j->r.freed += ((bs > as ? bs - as : 0) + (bp > ap ? bp - ap : 0)) / PAGE;
        j->r.op[c] = t1 - t0;
        j->r.total[c] = t2 - t0;
        if (!to_private) u = u + 1 == first + units ? first : u + 1;
        to_private = !to_private;
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *name, long *v, long n) {
    long sum = 0;
    for (long i = 0; i < n; i++) sum += v[i];
    qsort(v, n, sizeof *v, cmp);
    printf("\"%s\": {\"sumNanos\": %ld, \"p50\": %ld, \"p99\": %ld, \"max\": %ld}", name, sum, v[(n - 1) / 2],
           v[(long)((n - 1) * 0.99)], v[n - 1]);
}

static char *map(int fd, long size) {
    char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) die("mmap");
    return m;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: conversion_floor inplace|legacy-discard|legacy-keep UNIT_BYTES UNITS_PER_THREAD CONVERSIONS THREADS\n");
        return 2;
    }
    mode = !strcmp(argv[1], "inplace") ? INPLACE : !strcmp(argv[1], "legacy-discard") ? LEGACY_DISCARD
         : !strcmp(argv[1], "legacy-keep") ? LEGACY_KEEP : -1;
    unit = atol(argv[2]);
    units = atol(argv[3]);
    conversions = atol(argv[4]);
    threads = atoi(argv[5]);
    if ((int)mode < 0 || unit <= 0 || unit % PAGE || units <= 0 || conversions <= 0 || threads <= 0) {
        fprintf(stderr, "conversion_floor: bad arguments\n");
        return 2;
    }
    long size = unit * units * threads;
    private_fd = memfd_create("floor-gmem", MFD_CLOEXEC);
    if (private_fd < 0 || ftruncate(private_fd, size)) die("memfd_create/ftruncate (private)");
    private_map = map(private_fd, size);
    if (mode == INPLACE) {
        host_map = map(private_fd, size);
        /* The host's mapping is used, as Janus's is: its page tables are populated before the conversions. */
        for (long p = 0; p < size; p += PAGE) (void)*(volatile char *)(host_map + p);
    } else {
        shared_fd = memfd_create("floor-shared", MFD_CLOEXEC);
        if (shared_fd < 0 || ftruncate(shared_fd, size)) die("memfd_create/ftruncate (shared)");
        shared_map = map(shared_fd, size);
    }
    struct job *jobs = calloc(threads, sizeof *jobs);
    pthread_t *t = calloc(threads, sizeof *t);
    for (int i = 0; i < threads; i++) {
        jobs[i].id = i;
        jobs[i].r.op = calloc(conversions, sizeof(long));
        jobs[i].r.total = calloc(conversions, sizeof(long));
        if (pthread_create(&t[i], NULL, run, &jobs[i])) die("pthread_create");
    }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    long n = conversions * threads, allocated_pages = 0, freed_pages = 0;
    long *op = malloc(n * sizeof(long)), *total = malloc(n * sizeof(long));
    double throughput = 0;
    for (int i = 0; i < threads; i++) {
        long sum = 0;
        for (long c = 0; c < conversions; c++) sum += jobs[i].r.total[c];
        throughput += conversions / (sum / 1e9);
        memcpy(op + i * conversions, jobs[i].r.op, conversions * sizeof(long));
        memcpy(total + i * conversions, jobs[i].r.total, conversions * sizeof(long));
        allocated_pages += jobs[i].r.allocated;
        freed_pages += jobs[i].r.freed;
    }
    printf("{\"conversions\": %ld, \"conversionsPerSecond\": %.1f, \"pagesAllocated\": %ld, \"pagesFreed\": %ld, ", n, throughput,
           allocated_pages, freed_pages);
    stats("op", op, n);
    printf(", ");
    stats("total", total, n);
    printf("}\n");
    return 0;
}
