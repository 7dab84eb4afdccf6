/* pcvm-img: create, inspect, check and convert disk images, with qemu-img's options, output
 * formats and exit codes. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "block/block.h"

#define PROG "pcvm-img"

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* "10G", "512k", "1T", "4096" -> bytes (1024-based like qemu-img); -1 on error. */
static int64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    uint64_t mul = 1;
    switch (*end) {
    case 0: break;
    case 'b': case 'B': mul = 1; end++; break;
    case 'k': case 'K': mul = 1ull << 10; end++; break;
    case 'm': case 'M': mul = 1ull << 20; end++; break;
    case 'g': case 'G': mul = 1ull << 30; end++; break;
    case 't': case 'T': mul = 1ull << 40; end++; break;
    case 'p': case 'P': mul = 1ull << 50; end++; break;
    case 'e': case 'E': mul = 1ull << 60; end++; break;
    default: return -1;
    }
    if (*end)
        return -1;
    double bytes = v * (double)mul;
    if (bytes >= 9.2e18)
        return -1;
    if (mul == 1 && v != floor(v))
        return -1;
    return (int64_t)bytes;
}

/* qemu's size_to_str: three significant digits, unit switches at 1000. */
static void size_str(uint64_t val, char *buf, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    int e;
    frexp((double)val / (1000.0 / 1024.0), &e);
    int i = (e - 1) / 10;
    if (i < 0)
        i = 0;
    if (i > 6)
        i = 6;
    uint64_t div = 1ull << (i * 10);
    snprintf(buf, len, "%0.3g %s", (double)val / (double)div, units[i]);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* Options "-o a=b,c=d" for create/convert. */
struct create_opts {
    int64_t size;
    unsigned cluster_size;
    int version;
    bool lazy;
    int compression;
    unsigned refcount_bits;
    const char *backing, *backing_fmt;
    bool help;
};

static int parse_o(char *opts, struct create_opts *c)
{
    for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!strcmp(tok, "help") || !strcmp(tok, "?")) {
            c->help = true;
            continue;
        }
        if (!eq) {
            error("Invalid parameter '%s'", tok);
            return -1;
        }
        *eq = 0;
        const char *v = eq + 1;
        if (!strcmp(tok, "size")) {
            c->size = parse_size(v);
            if (c->size < 0) {
                error("Invalid size '%s'", v);
                return -1;
            }
        } else if (!strcmp(tok, "cluster_size")) {
            int64_t s = parse_size(v);
            if (s <= 0 || s > (1 << 21)) {
                error("Invalid cluster_size '%s'", v);
                return -1;
            }
            c->cluster_size = (unsigned)s;
        } else if (!strcmp(tok, "compat")) {
            if (!strcmp(v, "0.10") || !strcmp(v, "v2"))
                c->version = 2;
            else if (!strcmp(v, "1.1") || !strcmp(v, "v3"))
                c->version = 3;
            else {
                error("Invalid compatibility level: '%s'", v);
                return -1;
            }
        } else if (!strcmp(tok, "lazy_refcounts")) {
            c->lazy = !strcmp(v, "on") || !strcmp(v, "true");
        } else if (!strcmp(tok, "compression_type")) {
            if (!strcmp(v, "zlib"))
                c->compression = 0;
            else if (!strcmp(v, "zstd"))
                c->compression = 1;
            else {
                error("Invalid compression_type '%s'", v);
                return -1;
            }
        } else if (!strcmp(tok, "refcount_bits")) {
            c->refcount_bits = (unsigned)atoi(v);
        } else if (!strcmp(tok, "backing_file")) {
            c->backing = v;
        } else if (!strcmp(tok, "backing_fmt")) {
            c->backing_fmt = v;
        } else if (!strcmp(tok, "preallocation") && !strcmp(v, "off")) {
        } else if (!strcmp(tok, "extended_l2") && !strcmp(v, "off")) {
        } else {
            error("Invalid parameter '%s'", tok);
            return -1;
        }
    }
    return 0;
}

static int do_create_image(const char *fmt, const char *filename, struct create_opts *c, bool quiet)
{
    char err[BLOCK_ERR_LEN] = "";
    if (c->backing && c->size < 0) {
        struct block_dev *b = block_open(c->backing, c->backing_fmt, BLOCK_NO_LOCK, BLOCK_CACHE_WRITEBACK,
                                         err, sizeof(err));
        if (!b) {
            error("%s: %s", filename, err);
            return 1;
        }
        c->size = (int64_t)b->size;
        if (!c->backing_fmt)
            c->backing_fmt = block_format_name(b);
        block_close(b);
    }
    if (c->size < 0) {
        error("Image creation needs a size parameter");
        return 1;
    }
    if (!strcmp(fmt, "raw")) {
        if (c->backing) {
            error("%s: Backing file not supported for file format 'raw'", filename);
            return 1;
        }
        if (!quiet)
            printf("Formatting '%s', fmt=raw size=%" PRId64 "\n", filename, c->size);
        if (raw_create(filename, (uint64_t)c->size, err, sizeof(err)) < 0) {
            error("%s: %s", filename, err);
            return 1;
        }
        return 0;
    }
    if (strcmp(fmt, "qcow2")) {
        error("Unknown file format '%s'", fmt);
        return 1;
    }
    if (c->backing && !c->backing_fmt) {
        /* Probe like qemu-img does, and record what we found. */
        struct block_dev *b = block_open(c->backing, NULL, BLOCK_NO_LOCK, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
        if (b) {
            c->backing_fmt = block_format_name(b);
            block_close(b);
        }
    }
    struct qcow2_create_opts o = {
        .size = (uint64_t)c->size, .cluster_size = c->cluster_size ? c->cluster_size : 65536,
        .version = c->version ? c->version : 3, .lazy_refcounts = c->lazy,
        .compression_type = c->compression, .backing_file = c->backing, .backing_fmt = c->backing_fmt,
        .refcount_bits = c->refcount_bits ? c->refcount_bits : 16,
    };
    if (!quiet) {
        printf("Formatting '%s', fmt=qcow2 cluster_size=%u", filename, o.cluster_size);
        if (o.version == 2)
            printf(" compat=0.10");
        else
            printf(" extended_l2=off compression_type=%s", o.compression_type ? "zstd" : "zlib");
        printf(" size=%" PRIu64, o.size);
        if (o.backing_file)
            printf(" backing_file=%s", o.backing_file);
        if (o.backing_fmt)
            printf(" backing_fmt=%s", o.backing_fmt);
        if (o.version == 3)
            printf(" lazy_refcounts=%s", o.lazy_refcounts ? "on" : "off");
        printf(" refcount_bits=%u\n", o.refcount_bits);
    }
    if (qcow2_create(filename, &o, err, sizeof(err)) < 0) {
        error("%s: %s", filename, err);
        return 1;
    }
    return 0;
}

static int cmd_create(int argc, char **argv)
{
    const char *fmt = "raw";
    struct create_opts c = { .size = -1 };
    bool quiet = false;
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "f:b:F:o:qu")) != -1) {
        switch (opt) {
        case 'f': fmt = optarg; break;
        case 'b': c.backing = optarg; break;
        case 'F': c.backing_fmt = optarg; break;
        case 'o': if (parse_o(optarg, &c) < 0) return 1; break;
        case 'q': quiet = true; break;
        case 'u': break;
        default: return 1;
        }
    }
    if (c.help) {
        printf("Supported options:\n  backing_file\n  backing_fmt\n  cluster_size\n  compat\n"
               "  compression_type\n  lazy_refcounts\n  refcount_bits\n  size\n");
        return 0;
    }
    if (optind >= argc) {
        error("Expecting image file name");
        return 1;
    }
    const char *filename = argv[optind++];
    if (optind < argc) {
        c.size = parse_size(argv[optind]);
        if (c.size < 0) {
            error("Invalid image size specified. You may use k, M, G, T, P or E suffixes for");
            error("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
            return 1;
        }
    }
    return do_create_image(fmt, filename, &c, quiet);
}

static struct block_dev *open_image(const char *filename, const char *fmt, unsigned flags, bool quiet)
{
    char err[BLOCK_ERR_LEN] = "";
    struct block_dev *bs = block_open(filename, fmt, flags, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    if (!bs && !quiet)
        error("Could not open '%s': %s", filename, err);
    return bs;
}

static void print_snapshot_table(struct qcow2_snapshot_info *sn, int n)
{
    printf("%-9s %-17s %7s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
    for (int i = 0; i < n; i++) {
        char vs[32], date[32], clk[32], ic[32] = "";
        size_str(sn[i].vm_state_size, vs, sizeof(vs));
        time_t t = sn[i].date_sec;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
        uint64_t ms = sn[i].vm_clock_nsec / 1000000;
        snprintf(clk, sizeof(clk), "%02u:%02u:%02u.%03u", (unsigned)(ms / 3600000),
                 (unsigned)(ms / 60000 % 60), (unsigned)(ms / 1000 % 60), (unsigned)(ms % 1000));
        if (sn[i].has_icount)
            snprintf(ic, sizeof(ic), "%" PRIu64, sn[i].icount);
        /* qemu-img's row format: the size is 8 wide, so "12.3 MiB" stays under its header. */
        printf("%-9s %-16s %8s%20s%13s%11s\n", sn[i].id, sn[i].name, vs, date, clk, ic);
    }
}

#define MAX_LIST_SNAPSHOTS 1024

/* Print one image's info; sets next to its backing file path (for --backing-chain). */
static int info_one(const char *filename, const char *fmt, unsigned flags, bool json, char *next,
                    size_t nextlen, char *next_fmt)
{
    struct block_dev *bs = open_image(filename, fmt, flags | BLOCK_NO_BACKING | BLOCK_NO_REPAIR, false);
    if (!bs)
        return 1;
    if (next)
        next[0] = 0;
    int64_t actual = bfile_allocated(&bs->file);
    bool qcow2 = !strcmp(block_format_name(bs), "qcow2");
    struct qcow2_info qi;
    struct qcow2_snapshot_info *sn = NULL;
    int nsn = 0;
    if (qcow2) {
        qcow2_get_info(bs, &qi);
        sn = calloc(MAX_LIST_SNAPSHOTS, sizeof(*sn));
        if (sn)
            nsn = qcow2_snapshot_list(bs, sn, MAX_LIST_SNAPSHOTS);
    }
    char full_backing[4096] = "";
    if (qcow2 && qi.backing_file[0]) {
        if (qi.backing_file[0] == '/') {
            snprintf(full_backing, sizeof(full_backing), "%s", qi.backing_file);
        } else {
            const char *slash = strrchr(filename, '/');
            int dirlen = slash ? (int)(slash - filename + 1) : 0;
            snprintf(full_backing, sizeof(full_backing), "%.*s%s", dirlen, filename, qi.backing_file);
        }
    }
    if (json) {
        printf("{\n");
        if (qcow2 && qi.backing_fmt[0]) {
            printf("    \"backing-filename-format\": ");
            json_str(qi.backing_fmt);
            printf(",\n");
        }
        if (nsn) {
            printf("    \"snapshots\": [\n");
            for (int i = 0; i < nsn; i++) {
                printf("        {\n");
                if (sn[i].has_icount)
                    printf("            \"icount\": %" PRIu64 ",\n", sn[i].icount);
                printf("            \"vm-clock-nsec\": %" PRIu64 ",\n", sn[i].vm_clock_nsec % 1000000000);
                printf("            \"name\": ");
                json_str(sn[i].name);
                printf(",\n            \"date-sec\": %u,\n            \"date-nsec\": %u,\n", sn[i].date_sec, sn[i].date_nsec);
                printf("            \"vm-clock-sec\": %" PRIu64 ",\n            \"id\": ", sn[i].vm_clock_nsec / 1000000000);
                json_str(sn[i].id);
                printf(",\n            \"vm-state-size\": %" PRIu64 "\n        }%s\n", sn[i].vm_state_size, i + 1 < nsn ? "," : "");
            }
            printf("    ],\n");
        }
        printf("    \"virtual-size\": %" PRIu64 ",\n    \"filename\": ", bs->size);
        json_str(filename);
        printf(",\n");
        if (qcow2)
            printf("    \"cluster-size\": %u,\n", qi.cluster_size);
        printf("    \"format\": \"%s\",\n    \"actual-size\": %" PRId64 ",\n", block_format_name(bs), actual);
        if (qcow2) {
            printf("    \"format-specific\": {\n        \"type\": \"qcow2\",\n        \"data\": {\n");
            if (qi.version >= 3)
                printf("            \"compat\": \"1.1\",\n            \"compression-type\": \"%s\",\n"
                       "            \"lazy-refcounts\": %s,\n            \"refcount-bits\": %u,\n"
                       "            \"corrupt\": %s,\n            \"extended-l2\": false\n",
                       qi.compression_type ? "zstd" : "zlib", qi.lazy_refcounts ? "true" : "false",
                       qi.refcount_bits, qi.corrupt ? "true" : "false");
            else
                printf("            \"compat\": \"0.10\",\n            \"compression-type\": \"zlib\",\n"
                       "            \"refcount-bits\": %u\n", qi.refcount_bits);
            printf("        }\n    },\n");
            if (qi.backing_file[0]) {
                printf("    \"full-backing-filename\": ");
                json_str(full_backing);
                printf(",\n    \"backing-filename\": ");
                json_str(qi.backing_file);
                printf(",\n");
            }
        }
        printf("    \"dirty-flag\": %s\n}\n", qcow2 && qi.dirty ? "true" : "false");
    } else {
        char vs[32], ds[32];
        size_str(bs->size, vs, sizeof(vs));
        size_str(actual > 0 ? (uint64_t)actual : 0, ds, sizeof(ds));
        printf("image: %s\nfile format: %s\nvirtual size: %s (%" PRIu64 " bytes)\ndisk size: %s\n",
               filename, block_format_name(bs), vs, bs->size, ds);
        if (qcow2) {
            printf("cluster_size: %u\n", qi.cluster_size);
            if (qi.backing_file[0]) {
                printf("backing file: %s", qi.backing_file);
                if (strcmp(full_backing, qi.backing_file))
                    printf(" (actual path: %s)", full_backing);
                printf("\n");
                if (qi.backing_fmt[0])
                    printf("backing file format: %s\n", qi.backing_fmt);
            }
            if (nsn) {
                printf("Snapshot list:\n");
                print_snapshot_table(sn, nsn);
            }
            printf("Format specific information:\n");
            if (qi.version >= 3)
                printf("    compat: 1.1\n    compression type: %s\n    lazy refcounts: %s\n"
                       "    refcount bits: %u\n    corrupt: %s\n    extended l2: false\n",
                       qi.compression_type ? "zstd" : "zlib", qi.lazy_refcounts ? "true" : "false",
                       qi.refcount_bits, qi.corrupt ? "true" : "false");
            else
                printf("    compat: 0.10\n    compression type: zlib\n    refcount bits: %u\n", qi.refcount_bits);
        }
    }
    if (next && qcow2 && qi.backing_file[0])
        snprintf(next, nextlen, "%s", full_backing);
    if (next_fmt && qcow2)
        snprintf(next_fmt, 64, "%s", qi.backing_fmt);
    free(sn);
    block_close(bs);
    return 0;
}


static int cmd_info(int argc, char **argv)
{
    const char *fmt = NULL, *output = "human";
    unsigned flags = 0;
    bool chain = false;
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'O' }, { "force-share", no_argument, NULL, 'U' },
        { "backing-chain", no_argument, NULL, 'c' }, { NULL, 0, NULL, 0 },
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "f:U", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f': fmt = optarg; break;
        case 'O': output = optarg; break;
        case 'U': flags |= BLOCK_NO_LOCK; break;
        case 'c': chain = true; break;
        default: return 1;
        }
    }
    if (optind >= argc) {
        error("Expecting one image file name");
        return 1;
    }
    bool json = !strcmp(output, "json");
    if (!json && strcmp(output, "human")) {
        error("--output must be used with human or json as argument.");
        return 1;
    }
    if (!chain)
        return info_one(argv[optind], fmt, flags, json, NULL, 0, NULL);
    char cur[4096], next[4096], nfmt[64] = "";
    snprintf(cur, sizeof(cur), "%s", argv[optind]);
    const char *cfmt = fmt;
    if (json)
        printf("[\n");
    for (int depth = 0; depth <= BLOCK_MAX_BACKING_DEPTH; depth++) {
        if (depth && !json)
            printf("\n");
        if (depth && json)
            printf(",\n");
        if (info_one(cur, cfmt, flags, json, next, sizeof(next), nfmt))
            return 1;
        if (!next[0])
            break;
        snprintf(cur, sizeof(cur), "%s", next);
        cfmt = nfmt[0] ? nfmt : NULL;
        if (depth == BLOCK_MAX_BACKING_DEPTH) {
            error("Backing chain too deep or looping");
            return 1;
        }
    }
    if (json)
        printf("]\n");
    return 0;
}

static void print_check(const char *filename, const struct qcow2_check_result *r, bool json)
{
    if (json) {
        printf("{\n    \"image-end-offset\": %" PRIu64 ",\n    \"total-clusters\": %" PRIu64 ",\n",
               r->image_end_offset, r->total_clusters);
        if (r->corruptions)
            printf("    \"corruptions\": %" PRId64 ",\n", r->corruptions);
        printf("    \"check-errors\": %" PRId64 ",\n", r->check_errors);
        if (r->leaks)
            printf("    \"leaks\": %" PRId64 ",\n", r->leaks);
        if (r->leaks_fixed)
            printf("    \"leaks-fixed\": %" PRId64 ",\n", r->leaks_fixed);
        if (r->corruptions_fixed)
            printf("    \"corruptions-fixed\": %" PRId64 ",\n", r->corruptions_fixed);
        if (r->allocated_clusters)
            printf("    \"allocated-clusters\": %" PRIu64 ",\n", r->allocated_clusters);
        if (r->fragmented_clusters)
            printf("    \"fragmented-clusters\": %" PRIu64 ",\n", r->fragmented_clusters);
        if (r->compressed_clusters)
            printf("    \"compressed-clusters\": %" PRIu64 ",\n", r->compressed_clusters);
        printf("    \"filename\": ");
        json_str(filename);
        printf(",\n    \"format\": \"qcow2\"\n}\n");
        return;
    }
    if (!r->corruptions && !r->leaks && !r->check_errors)
        printf("No errors were found on the image.\n");
    if (r->corruptions)
        printf("\n%" PRId64 " errors were found on the image.\n"
               "Data may be corrupted, or further writes to the image may corrupt it.\n", r->corruptions);
    if (r->leaks)
        printf("\n%" PRId64 " leaked clusters were found on the image.\n"
               "This means waste of disk space, but no harm to data.\n", r->leaks);
    if (r->check_errors)
        printf("\n%" PRId64 " internal errors have occurred during the check.\n", r->check_errors);
    if (r->total_clusters && r->allocated_clusters)
        printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% compressed clusters\n",
               r->allocated_clusters, r->total_clusters,
               r->allocated_clusters * 100.0 / (double)r->total_clusters,
               r->fragmented_clusters * 100.0 / (double)r->allocated_clusters,
               r->compressed_clusters * 100.0 / (double)r->allocated_clusters);
    printf("Image end offset: %" PRIu64 "\n", r->image_end_offset);
}

static int cmd_check(int argc, char **argv)
{
    const char *fmt = NULL, *output = "human";
    int fix = 0;
    bool quiet = false;
    unsigned flags = BLOCK_NO_BACKING | BLOCK_NO_REPAIR;
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'O' }, { "repair", required_argument, NULL, 'r' },
        { "force-share", no_argument, NULL, 'U' }, { NULL, 0, NULL, 0 },
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "f:r:qU", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f': fmt = optarg; break;
        case 'O': output = optarg; break;
        case 'q': quiet = true; break;
        case 'U': flags |= BLOCK_NO_LOCK; break;
        case 'r':
            if (!strcmp(optarg, "leaks"))
                fix = QCOW2_FIX_LEAKS;
            else if (!strcmp(optarg, "all"))
                fix = QCOW2_FIX_LEAKS | QCOW2_FIX_ERRORS;
            else {
                error("Unknown option value for -r (expecting 'leaks' or 'all'): %s", optarg);
                return 1;
            }
            break;
        default: return 1;
        }
    }
    if (optind >= argc) {
        error("Expecting one image file name");
        return 1;
    }
    bool json = !strcmp(output, "json");
    const char *filename = argv[optind];
    struct block_dev *bs = open_image(filename, fmt, flags | (fix ? BLOCK_RDWR : 0), false);
    if (!bs)
        return 1;
    if (strcmp(block_format_name(bs), "qcow2")) {
        error("This image format does not support checks");
        block_close(bs);
        return 63;
    }
    struct qcow2_check_result r;
    int ret = qcow2_check(bs, fix, &r, !quiet);
    if (ret < 0) {
        error("Check failed: %s", strerror(-ret));
        block_close(bs);
        return 1;
    }
    if (fix && (r.leaks_fixed || r.corruptions_fixed)) {
        if (!json && !quiet)
            printf("The following inconsistencies were found and repaired:\n\n"
                   "    %" PRId64 " leaked clusters\n    %" PRId64 " corruptions\n\n"
                   "Double checking the fixed image now...\n", r.leaks_fixed, r.corruptions_fixed);
        struct qcow2_check_result again;
        ret = qcow2_check(bs, 0, &again, !quiet);
        if (ret < 0) {
            block_close(bs);
            return 1;
        }
        again.leaks_fixed = r.leaks_fixed;
        again.corruptions_fixed = r.corruptions_fixed;
        r = again;
    }
    if (!quiet || json)
        print_check(filename, &r, json);
    block_close(bs);
    if (r.check_errors)
        return 1;
    if (r.corruptions)
        return 2;
    if (r.leaks)
        return 3;
    return 0;
}

static bool is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int cmd_convert(int argc, char **argv)
{
    const char *fmt = NULL, *ofmt = "raw", *out_backing = NULL, *out_backing_fmt = NULL;
    bool compress = false, progress = false, quiet = false, skip_create = false;
    unsigned flags = 0;
    struct create_opts c = { .size = -1 };
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "f:O:co:pqB:F:UnS:m:Wt:T:")) != -1) {
        switch (opt) {
        case 'f': fmt = optarg; break;
        case 'O': ofmt = optarg; break;
        case 'c': compress = true; break;
        case 'o': if (parse_o(optarg, &c) < 0) return 1; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        case 'B': out_backing = optarg; break;
        case 'F': out_backing_fmt = optarg; break;
        case 'U': flags |= BLOCK_NO_LOCK; break;
        case 'n': skip_create = true; break;
        case 'S': case 'm': case 'W': case 't': case 'T': break;
        default: return 1;
        }
    }
    if (argc - optind != 2) {
        error("Expecting one source image and one output file name");
        return 1;
    }
    const char *src_name = argv[optind], *dst_name = argv[optind + 1];
    if (compress && strcmp(ofmt, "qcow2")) {
        error("Compression not supported for this file format");
        return 1;
    }
    struct block_dev *src = open_image(src_name, fmt, flags, false);
    if (!src)
        return 1;
    if (out_backing) {
        c.backing = out_backing;
        c.backing_fmt = out_backing_fmt;
    }
    c.size = (int64_t)src->size;
    if (!skip_create && do_create_image(ofmt, dst_name, &c, true)) {
        block_close(src);
        return 1;
    }
    struct block_dev *dst = open_image(dst_name, ofmt, BLOCK_RDWR, false);
    if (!dst) {
        block_close(src);
        return 1;
    }
    /* With -B, content equal to the new backing file is left unallocated. */
    struct block_dev *cmp = out_backing ? dst->backing : NULL;
    uint64_t chunk = qcow2_cluster_size(dst);
    if (!chunk)
        chunk = 65536;
    uint8_t *buf = malloc(chunk), *cbuf = malloc(chunk);
    int ret = 0;
    if (!buf || !cbuf) {
        ret = 1;
        goto out;
    }
    uint64_t size = src->size, unit = compress ? chunk : (qcow2_cluster_size(dst) ? chunk : 4096);
    double last = -1;
    for (uint64_t off = 0; off < size;) {
        uint64_t n = chunk - (off % chunk);
        if (n > size - off)
            n = size - off;
        if (progress && !quiet) {
            double pct = off * 100.0 / (double)size;
            if (pct - last >= 1) {
                printf("    (%3.2f/100%%)\r", pct);
                fflush(stdout);
                last = pct;
            }
        }
        uint64_t pnum;
        int st = block_status(src, off, n, &pnum);
        if (st < 0) {
            error("error while reading at byte %" PRIu64 ": %s", off, strerror(-st));
            ret = 1;
            break;
        }
        bool zero = st == BLOCK_STATUS_ZERO;
        if (zero && !cmp) {
            off += pnum;
            continue;
        }
        int r = block_pread(src, off, buf, (size_t)n);
        if (r < 0) {
            error("error while reading at byte %" PRIu64 ": %s", off, strerror(-r));
            ret = 1;
            break;
        }
        if (cmp) {
            r = block_pread(cmp, off, cbuf, (size_t)n);
            if (!r && !memcmp(buf, cbuf, (size_t)n)) {
                off += n;
                continue;
            }
            if (!r && is_zero(buf, (size_t)n)) {
                /* Must shadow non-zero backing data. */
                r = block_pwrite(dst, off, buf, (size_t)n);
                off += n;
                if (r < 0) {
                    error("error while writing at byte %" PRIu64 ": %s", off, strerror(-r));
                    ret = 1;
                    break;
                }
                continue;
            }
        }
        if (compress && n == chunk) {
            if (!is_zero(buf, (size_t)n)) {
                r = qcow2_write_compressed(dst, off, buf, (size_t)n);
                if (r == 1)
                    r = block_pwrite(dst, off, buf, (size_t)n);
            }
        } else {
            for (uint64_t u = 0; u < n && r >= 0; u += unit) {
                uint64_t m = n - u < unit ? n - u : unit;
                if (!is_zero(buf + u, (size_t)m) || skip_create)
                    r = block_pwrite(dst, off + u, buf + u, (size_t)m);
            }
        }
        if (r < 0) {
            error("error while writing at byte %" PRIu64 ": %s", off, strerror(-r));
            ret = 1;
            break;
        }
        off += n;
    }
    if (progress && !quiet)
        printf("    (100.00/100%%)\r\n");
    if (!ret && block_flush(dst) < 0)
        ret = 1;
out:
    free(buf);
    free(cbuf);
    block_close(dst);
    block_close(src);
    return ret;
}

/* The driver's own words when it has them, else the errno text. */
static const char *snapshot_error(struct block_dev *bs, int r)
{
    const char *m = qcow2_last_error(bs);
    return m[0] ? m : strerror(-r);
}

static int cmd_snapshot(int argc, char **argv)
{
    int action = 0;
    const char *name = NULL, *fmt = NULL;
    unsigned flags = 0;
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "lc:a:d:f:qU")) != -1) {
        switch (opt) {
        case 'l': action = 'l'; break;
        case 'c': case 'a': case 'd': action = opt; name = optarg; break;
        case 'f': fmt = optarg; break;
        case 'q': break;
        case 'U': flags |= BLOCK_NO_LOCK; break;
        default: return 1;
        }
    }
    if (optind >= argc || !action) {
        error("Expecting one image file name");
        return 1;
    }
    const char *filename = argv[optind];
    struct block_dev *bs = open_image(filename, fmt, flags | BLOCK_NO_BACKING | (action == 'l' ? 0 : BLOCK_RDWR), false);
    if (!bs)
        return 1;
    if (strcmp(block_format_name(bs), "qcow2")) {
        if (action == 'l')
            error("Could not list snapshots: Operation not supported");
        else
            error("Could not %s snapshot '%s': Operation not supported",
                  action == 'c' ? "create" : action == 'a' ? "apply" : "delete", name);
        block_close(bs);
        return 1;
    }
    int r = 0;
    if (action == 'l') {
        struct qcow2_snapshot_info *sn = calloc(MAX_LIST_SNAPSHOTS, sizeof(*sn));
        int n = sn ? qcow2_snapshot_list(bs, sn, MAX_LIST_SNAPSHOTS) : 0;
        if (n) {
            printf("Snapshot list:\n");
            print_snapshot_table(sn, n);
        }
        free(sn);
    } else if (action == 'c') {
        r = qcow2_snapshot_create(bs, name);
        if (r < 0)
            error("Could not create snapshot '%s': %s", name, snapshot_error(bs, r));
    } else if (action == 'a') {
        r = qcow2_snapshot_apply(bs, name);
        if (r < 0)
            error("Could not apply snapshot '%s': %s", name, snapshot_error(bs, r));
    } else {
        r = qcow2_snapshot_delete(bs, name);
        if (r < 0)
            error("Could not delete snapshot '%s': %s", name, r == -ENOENT ? "snapshot not found" : snapshot_error(bs, r));
    }
    block_close(bs);
    return r < 0 ? 1 : 0;
}

static int cmd_resize(int argc, char **argv)
{
    const char *fmt = NULL;
    bool shrink = false, quiet = false;
    static const struct option longopts[] = { { "shrink", no_argument, NULL, 's' }, { NULL, 0, NULL, 0 } };
    int opt;
    optind = 1;
    /* A size like "-1G" must not be taken for an option: stop at the file name. */
    while ((opt = getopt_long(argc, argv, "+f:q", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f': fmt = optarg; break;
        case 's': shrink = true; break;
        case 'q': quiet = true; break;
        default: return 1;
        }
    }
    if (argc - optind != 2) {
        error("Expecting image file name and size");
        return 1;
    }
    const char *filename = argv[optind], *sz = argv[optind + 1];
    struct block_dev *bs = open_image(filename, fmt, BLOCK_RDWR | BLOCK_NO_BACKING, false);
    if (!bs)
        return 1;
    int sign = 0;
    if (*sz == '+' || *sz == '-')
        sign = *sz++ == '+' ? 1 : -1;
    int64_t v = parse_size(sz);
    if (v < 0) {
        error("Invalid image size specified. You may use k, M, G, T, P or E suffixes for");
        block_close(bs);
        return 1;
    }
    uint64_t nsize = sign > 0 ? bs->size + (uint64_t)v : sign < 0 ? bs->size - (uint64_t)v : (uint64_t)v;
    if (sign < 0 && (uint64_t)v > bs->size) {
        error("New image size must be positive");
        block_close(bs);
        return 1;
    }
    if (nsize < bs->size && !shrink) {
        error("Use the --shrink option to perform a shrink operation.");
        block_close(bs);
        return 1;
    }
    int r = block_truncate(bs, nsize, shrink);
    if (r < 0) {
        if (r == -ENOTSUP)
            error("qcow2 images can only be grown by pcvm-img");
        else if (r == -EBUSY)
            error("Can't resize an image which has snapshots");
        else
            error("Error resizing image: %s", strerror(-r));
        block_close(bs);
        return 1;
    }
    block_close(bs);
    if (!quiet)
        printf("Image resized.\n");
    return 0;
}

static char *backing_path(const char *image, const char *backing)
{
    char *p = malloc(strlen(image) + strlen(backing) + 2);
    if (!p)
        return NULL;
    const char *slash = strrchr(image, '/');
    if (backing[0] == '/' || !slash)
        strcpy(p, backing);
    else
        sprintf(p, "%.*s%s", (int)(slash - image + 1), image, backing);
    return p;
}

static int cmd_commit(int argc, char **argv)
{
    const char *fmt = NULL;
    bool keep = false, quiet = false, progress = false;
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "f:dqpt:b:")) != -1) {
        switch (opt) {
        case 'f': fmt = optarg; break;
        case 'd': keep = true; break;
        case 'q': quiet = true; break;
        case 'p': progress = true; break;
        case 't': case 'b': break;
        default: return 1;
        }
    }
    (void)progress;
    if (optind >= argc) {
        error("Expecting one image file name");
        return 1;
    }
    const char *filename = argv[optind];
    struct block_dev *top = open_image(filename, fmt, (keep ? 0 : BLOCK_RDWR) | BLOCK_NO_BACKING, false);
    if (!top)
        return 1;
    struct qcow2_info qi;
    if (strcmp(block_format_name(top), "qcow2") || (qcow2_get_info(top, &qi), !qi.backing_file[0])) {
        error("Image does not have a backing file");
        block_close(top);
        return 1;
    }
    char *bpath = backing_path(filename, qi.backing_file);
    struct block_dev *base = bpath ? open_image(bpath, qi.backing_fmt[0] ? qi.backing_fmt : NULL, BLOCK_RDWR, false) : NULL;
    free(bpath);
    if (!base) {
        block_close(top);
        return 1;
    }
    uint64_t chunk = qcow2_cluster_size(top);
    uint8_t *buf = malloc(chunk);
    int ret = buf ? 0 : 1;
    if (base->size < top->size && block_truncate(base, top->size, false) < 0) {
        error("Could not resize the backing file");
        ret = 1;
    }
    for (uint64_t off = 0; !ret && off < top->size; off += chunk) {
        uint64_t n = top->size - off < chunk ? top->size - off : chunk, pnum;
        int st = block_status(top, off, n, &pnum);
        if (st < 0 || st == BLOCK_STATUS_BACKING)
            continue;
        if (block_pread(top, off, buf, (size_t)n) < 0 || block_pwrite(base, off, buf, (size_t)n) < 0) {
            error("Could not commit at byte %" PRIu64, off);
            ret = 1;
        }
    }
    if (!ret && block_flush(base) < 0)
        ret = 1;
    if (!ret && !keep && qcow2_make_empty(top) < 0) {
        error("Could not empty %s", filename);
        ret = 1;
    }
    free(buf);
    block_close(base);
    block_close(top);
    if (!ret && !quiet)
        printf("Image committed.\n");
    return ret;
}

static int cmd_rebase(int argc, char **argv)
{
    const char *fmt = NULL, *newb = NULL, *newfmt = NULL;
    bool unsafe = false, quiet = false;
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "f:b:F:uqpt:T:U")) != -1) {
        switch (opt) {
        case 'f': fmt = optarg; break;
        case 'b': newb = optarg; break;
        case 'F': newfmt = optarg; break;
        case 'u': unsafe = true; break;
        case 'q': quiet = true; break;
        case 'p': case 't': case 'T': case 'U': break;
        default: return 1;
        }
    }
    (void)quiet;
    if (optind >= argc || !newb) {
        error("Expecting one image file name and -b");
        return 1;
    }
    const char *filename = argv[optind];
    struct block_dev *top = open_image(filename, fmt, BLOCK_RDWR | BLOCK_NO_BACKING, false);
    if (!top)
        return 1;
    if (strcmp(block_format_name(top), "qcow2")) {
        error("Could not change the backing file: Operation not supported");
        block_close(top);
        return 1;
    }
    int ret = 0;
    struct qcow2_info qi;
    qcow2_get_info(top, &qi);
    if (*newb && !newfmt) {
        char *p = backing_path(filename, newb);
        struct block_dev *b = p ? open_image(p, NULL, BLOCK_NO_LOCK, true) : NULL;
        if (b) {
            newfmt = strcmp(block_format_name(b), "qcow2") ? "raw" : "qcow2";
            block_close(b);
        }
        free(p);
    }
    if (!unsafe) {
        /* Safe mode: copy into the image every cluster where old and new backing differ. */
        struct block_dev *oldb = NULL, *nb = NULL;
        if (qi.backing_file[0]) {
            char *p = backing_path(filename, qi.backing_file);
            oldb = p ? open_image(p, qi.backing_fmt[0] ? qi.backing_fmt : NULL, 0, false) : NULL;
            free(p);
            if (!oldb) {
                block_close(top);
                return 1;
            }
        }
        if (*newb) {
            char *p = backing_path(filename, newb);
            nb = p ? open_image(p, newfmt, 0, false) : NULL;
            free(p);
            if (!nb) {
                block_close(oldb);
                block_close(top);
                return 1;
            }
        }
        uint64_t chunk = qcow2_cluster_size(top);
        uint8_t *a = malloc(chunk), *b = malloc(chunk);
        for (uint64_t off = 0; a && b && !ret && off < top->size; off += chunk) {
            uint64_t n = top->size - off < chunk ? top->size - off : chunk, pnum;
            int st = block_status(top, off, n, &pnum);
            if (st != BLOCK_STATUS_BACKING && st != BLOCK_STATUS_ZERO)
                continue;
            memset(a, 0, chunk);
            memset(b, 0, chunk);
            if ((oldb && block_pread(oldb, off, a, (size_t)n) < 0) || (nb && block_pread(nb, off, b, (size_t)n) < 0)) {
                error("Could not read backing data at %" PRIu64, off);
                ret = 1;
                break;
            }
            if (memcmp(a, b, (size_t)n) && block_pwrite(top, off, a, (size_t)n) < 0) {
                error("Could not write at %" PRIu64, off);
                ret = 1;
            }
        }
        free(a);
        free(b);
        block_close(oldb);
        block_close(nb);
    }
    if (!ret && qcow2_set_backing(top, *newb ? newb : NULL, newfmt) < 0) {
        error("Could not change the backing file to '%s'", newb);
        ret = 1;
    }
    block_close(top);
    return ret;
}

/* bench: timed sequential or random I/O through the block layer (also the crash-test writer). */
static int cmd_bench(int argc, char **argv)
{
    const char *fmt = NULL, *cache = "writeback";
    bool write = false, quiet = false;
    long count = 75000, flush_interval = 0;
    int64_t bufsize = 4096, offset = 0, step = -1;
    long seed = -1;
    int pattern = 0xa5;
    static const struct option longopts[] = {
        { "pattern", required_argument, NULL, 'P' }, { "flush-interval", required_argument, NULL, 'F' },
        { "random", required_argument, NULL, 'R' }, { NULL, 0, NULL, 0 },
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:d:f:i:no:qs:S:t:wU", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': count = atol(optarg); break;
        case 'f': fmt = optarg; break;
        case 'o': offset = parse_size(optarg); break;
        case 'q': quiet = true; break;
        case 's': bufsize = parse_size(optarg); break;
        case 'S': step = parse_size(optarg); break;
        case 't': cache = optarg; break;
        case 'w': write = true; break;
        case 'P': pattern = atoi(optarg); break;
        case 'F': flush_interval = atol(optarg); break;
        case 'R': seed = atol(optarg); break;
        case 'd': case 'i': case 'n': case 'U': break;
        default: return 1;
        }
    }
    enum block_cache cm;
    if (optind >= argc || bufsize <= 0 || offset < 0 || block_parse_cache(cache, &cm) < 0) {
        error("Expecting one image file name (and valid -s/-o/-t)");
        return 1;
    }
    if (step < 0)
        step = bufsize;
    char err[BLOCK_ERR_LEN] = "";
    struct block_dev *bs = block_open(argv[optind], fmt, write ? BLOCK_RDWR : 0, cm, err, sizeof(err));
    if (!bs) {
        error("Could not open '%s': %s", argv[optind], err);
        return 1;
    }
    uint8_t *buf = malloc((size_t)bufsize);
    if (!buf) {
        block_close(bs);
        return 1;
    }
    memset(buf, pattern, (size_t)bufsize);
    if (!quiet)
        printf("Sending %ld %s requests, %" PRId64 " bytes each, 1 in parallel (starting at offset %" PRId64
               ", step size %" PRId64 ")\n", count, write ? "write" : "read", bufsize, offset, step);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t rnd = (uint64_t)seed * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t slots = bs->size / (uint64_t)bufsize;
    int ret = 0;
    for (long i = 0; i < count && slots; i++) {
        uint64_t off;
        if (seed >= 0) {
            rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
            off = (rnd >> 17) % slots * (uint64_t)bufsize;
            /* Vary the contents so every write is distinguishable. */
            memset(buf, (int)(rnd >> 50), (size_t)bufsize);
        } else {
            off = (uint64_t)offset + (uint64_t)i * (uint64_t)step;
            if (off + (uint64_t)bufsize > bs->size)
                off %= bs->size - (uint64_t)bufsize + 1;
        }
        int r = write ? block_pwrite(bs, off, buf, (size_t)bufsize) : block_pread(bs, off, buf, (size_t)bufsize);
        if (!r && write && flush_interval && (i + 1) % flush_interval == 0)
            r = block_flush(bs);
        if (r < 0) {
            error("Failed request: %s", strerror(-r));
            ret = 1;
            break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!quiet)
        printf("Run completed in %.3f seconds.\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(buf);
    block_close(bs);
    return ret;
}

static void usage(void)
{
    printf("usage: " PROG " [command] [options]\n"
           "Commands:\n"
           "  create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-o options] filename [size]\n"
           "  info [-f fmt] [--output=human|json] [-U] filename\n"
           "  check [-q] [-f fmt] [--output=human|json] [-r leaks|all] filename\n"
           "  convert [-c] [-p] [-q] [-f fmt] [-O output_fmt] [-B backing] [-o options] src dst\n"
           "  snapshot [-l | -c name | -a name | -d name] filename\n"
           "  resize [--shrink] [-f fmt] filename [+|-]size\n"
           "  commit [-q] [-d] [-f fmt] filename\n"
           "  rebase [-u] [-f fmt] -b backing_file [-F backing_fmt] filename\n"
           "  bench [-w] [-c count] [-s size] [-o offset] [-S step] [-t cache] [--random=seed] filename\n"
           "Supported formats: raw qcow2\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        error("Not enough arguments\nTry '" PROG " --help' for more information");
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage();
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf(PROG " version 1.0\n");
        return 0;
    }
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        { "create", cmd_create }, { "info", cmd_info }, { "check", cmd_check }, { "convert", cmd_convert },
        { "snapshot", cmd_snapshot }, { "resize", cmd_resize }, { "commit", cmd_commit }, { "rebase", cmd_rebase }, { "bench", cmd_bench },
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(cmd, cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    error("Command not found: %s", cmd);
    return 1;
}
