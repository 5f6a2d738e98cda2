/* spice_render: run one ngspice transient simulation of a netlist driven by
 * sampled audio, and write the output node at exactly t = k / fs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Build:  cc -O2 -o spice_render spice_render.c -lngspice
 * Usage:  spice_render NETLIST IN.f64 OUT.f64 [FS] [TMAX] [TRTOL]
 *
 *   NETLIST  a circuit with the source "Vin in 0 EXTERNAL" and an output node
 *            "out"; any .tran/.end/.control lines in it are dropped, the driver
 *            appends its own analysis lines.
 *   IN.f64   input samples in volts, raw little-endian float64, rate FS.
 *   OUT.f64  written: V(out) at t = k/FS for every input sample k, float64.
 *   FS       sample rate (default 48000); TMAX maximum time step (default
 *            1/(2*FS)); TRTOL truncation-error tolerance (default 1).
 *
 * How the input gets in: ngspice asks GetVSRCData for the EXTERNAL source's
 * value at any time it evaluates; we interpolate the samples there with a
 * 4-point Catmull-Rom cubic (continuous, passes through every sample).
 * How the output lands on the grid: the synchronisation callback sees every
 * proposed step and shortens it so that no step crosses the next grid time
 * k/FS (the remaining interval is split into equal steps no longer than the
 * proposal), so every grid time is an accepted time point; SendData hands us
 * each accepted point and we keep the ones on the grid.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ngspice/sharedspice.h>

static double *g_in;
static long g_n;
static double g_fs = 48000.0;
static double *g_out;
static char *g_have;
static long g_got;
static int g_out_index = -1;
static int g_failed;
static int g_verbose;

static double input_at(double t) {
    double x = t * g_fs;
    if (x <= 0.0) return g_in[0];
    if (x >= (double)(g_n - 1)) return g_in[g_n - 1];
    long i = (long)floor(x);
    double f = x - (double)i;
    double p1 = g_in[i];
    double p2 = g_in[i + 1];
    double p0 = i > 0 ? g_in[i - 1] : p1;
    double p3 = i + 2 < g_n ? g_in[i + 2] : p2;
    /* Catmull-Rom */
    double a = -0.5 * p0 + 1.5 * p1 - 1.5 * p2 + 0.5 * p3;
    double b = p0 - 2.5 * p1 + 2.0 * p2 - 0.5 * p3;
    double c = -0.5 * p0 + 0.5 * p2;
    return ((a * f + b) * f + c) * f + p1;
}

static int cb_char(char *s, int id, void *u) {
    (void)id;
    (void)u;
    if (g_verbose || strstr(s, "rror") || strstr(s, "arning") || strstr(s, "too small"))
        fprintf(stderr, "ngspice: %s\n", s);
    if (strstr(s, "stderr Error") || strstr(s, "Timestep too small")) g_failed = 1;
    return 0;
}

static int cb_stat(char *s, int id, void *u) {
    (void)s;
    (void)id;
    (void)u;
    return 0;
}

static int cb_exit(int status, NG_BOOL unload, NG_BOOL quit, int id, void *u) {
    (void)unload;
    (void)quit;
    (void)id;
    (void)u;
    if (status != 0) g_failed = 1;
    return 0;
}

static int cb_initdata(pvecinfoall vi, int id, void *u) {
    (void)id;
    (void)u;
    g_out_index = -1;
    for (int i = 0; i < vi->veccount; i++) {
        const char *nm = vi->vecs[i]->vecname;
        if (strcmp(nm, "out") == 0 || strcmp(nm, "V(out)") == 0 || strcmp(nm, "v(out)") == 0)
            g_out_index = i;
    }
    return 0;
}

static int cb_data(pvecvaluesall va, int count, int id, void *u) {
    (void)count;
    (void)id;
    (void)u;
    double t = -1.0;
    double v = 0.0;
    int have_v = 0;
    for (int i = 0; i < va->veccount; i++) {
        pvecvalues p = va->vecsa[i];
        if (p->is_scale)
            t = p->creal;
        else if (i == g_out_index || strcmp(p->name, "out") == 0 || strcmp(p->name, "V(out)") == 0) {
            v = p->creal;
            have_v = 1;
        }
    }
    if (t < 0.0 || !have_v) return 0;
    double x = t * g_fs;
    long k = lround(x);
    if (k < 0 || k >= g_n) return 0;
    if (fabs(x - (double)k) > 1e-6) return 0; /* not a grid point */
    if (!g_have[k]) g_got++;
    g_have[k] = 1;
    g_out[k] = v; /* a later accepted point at the same time wins */
    return 0;
}

static int cb_bgrun(NG_BOOL running, int id, void *u) {
    (void)running;
    (void)id;
    (void)u;
    return 0;
}

static int cb_vsrc(double *value, double t, char *name, int id, void *u) {
    (void)name;
    (void)id;
    (void)u;
    *value = input_at(t);
    return 0;
}

static int cb_isrc(double *value, double t, char *name, int id, void *u) {
    (void)t;
    (void)name;
    (void)id;
    (void)u;
    *value = 0.0;
    return 0;
}

/* Shorten the proposed step so that it does not cross the next grid time. */
static int cb_sync(double t, double *delta, double olddelta, int redostep, int id, int loc, void *u) {
    (void)olddelta;
    (void)redostep;
    (void)id;
    (void)loc;
    (void)u;
    double d = *delta;
    if (!(d > 0.0)) return 0;
    double x = t * g_fs;
    double knext = floor(x + 1e-7) + 1.0; /* first grid index strictly after t */
    if (knext > (double)(g_n - 1)) return 0; /* past the last grid point: leave it */
    double gap = knext / g_fs - t;
    if (gap <= 0.0) return 0;
    /* equal steps, none longer than the proposal, the last ending on the grid */
    double nsteps = ceil(gap / d - 1e-6);
    if (nsteps < 1.0) nsteps = 1.0;
    *delta = gap / nsteps;
    return 0;
}

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    memcpy(p, s, n);
    return p;
}

static int tolower_ascii(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int starts_with_ci(const char *s, const char *pre) {
    while (*s == ' ' || *s == '\t') s++;
    for (; *pre; s++, pre++)
        if (tolower_ascii(*s) != *pre) return 0;
    return 1;
}

/* the line is the card `name` (followed by nothing or blanks/arguments) */
static int is_card(const char *s, const char *name) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(name);
    if (!starts_with_ci(s, name)) return 0;
    return s[n] == 0 || s[n] == ' ' || s[n] == '\t';
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s NETLIST IN.f64 OUT.f64 [FS] [TMAX] [TRTOL]\n", argv[0]);
        return 2;
    }
    if (argc > 4) g_fs = atof(argv[4]);
    double tmax = argc > 5 ? atof(argv[5]) : 0.5 / g_fs;
    double trtol = argc > 6 ? atof(argv[6]) : 1.0;
    g_verbose = getenv("SPICE_RENDER_VERBOSE") != NULL || getenv("SPICE_RENDER_STATS") != NULL;

    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    g_n = bytes / (long)sizeof(double);
    if (g_n < 4) {
        fprintf(stderr, "input too short\n");
        return 1;
    }
    g_in = malloc((size_t)g_n * sizeof(double));
    if (fread(g_in, sizeof(double), (size_t)g_n, f) != (size_t)g_n) {
        fprintf(stderr, "short read\n");
        return 1;
    }
    fclose(f);
    g_out = calloc((size_t)g_n, sizeof(double));
    g_have = calloc((size_t)g_n, 1);

    /* read the netlist */
    f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 256, nl = 0;
    char **lines = malloc(cap * sizeof(char *));
    char buf[4096];
    int in_control = 0;
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = 0;
        if (nl > 0) { /* the first line is the title, kept as it is */
            if (is_card(buf, ".control")) in_control = 1;
            if (in_control) {
                if (is_card(buf, ".endc")) in_control = 0;
                continue;
            }
            if (is_card(buf, ".end") || is_card(buf, ".tran")) continue;
        }
        if (nl + 8 >= cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof(char *));
        }
        lines[nl++] = dupstr(buf);
    }
    fclose(f);
    /* run half a sample past the last grid point, so that the last point we
       need is an ordinary step and never collides with ngspice's own final
       time handling */
    double tstop = ((double)(g_n - 1) + 0.5) / g_fs;
    /* minbreak: XSPICE builds set the minimum breakpoint interval to 10 * delmin
       (about 1e-15 s here), finer than one ulp of the time after a few
       seconds, so the final time could be missed by rounding ("Timestep too
       small ... timestep = 0"); 1 ns is far below any step we take. */
    snprintf(buf, sizeof buf, ".options trtol=%.17g minbreak=1e-9", trtol);
    lines[nl++] = dupstr(buf);
    snprintf(buf, sizeof buf, ".tran %.17g %.17g 0 %.17g", 1.0 / g_fs, tstop, tmax);
    lines[nl++] = dupstr(buf);
    lines[nl++] = dupstr(".save v(out)");
    lines[nl++] = dupstr(".end");
    lines[nl] = NULL;

    int ident = 0;
    ngSpice_Init(cb_char, cb_stat, cb_exit, cb_data, cb_initdata, cb_bgrun, NULL);
    ngSpice_Init_Sync(cb_vsrc, cb_isrc, cb_sync, &ident, NULL);
    if (ngSpice_Circ(lines) != 0 || g_failed) {
        fprintf(stderr, "netlist rejected\n");
        return 1;
    }
    ngSpice_Command("run");
    if (getenv("SPICE_RENDER_STATS")) ngSpice_Command("rusage all");
    if (g_failed) {
        fprintf(stderr, "simulation failed\n");
        return 1;
    }
    if (g_got != g_n) {
        long missing = g_n - g_got;
        fprintf(stderr, "spice_render: %ld of %ld grid points missing\n", missing, g_n);
        return 1;
    }
    f = fopen(argv[3], "wb");
    if (!f || fwrite(g_out, sizeof(double), (size_t)g_n, f) != (size_t)g_n || fclose(f) != 0) {
        perror(argv[3]);
        return 1;
    }
    /* leave through _exit-like path: libngspice's own cleanup is slow and not needed */
    fflush(NULL);
    quick_exit(0);
}
