/*
 * NAME
 *   config - load, check and read mailsso.conf (see include/mailsso/config.h)
 *
 * DESCRIPTION
 *   libconfig parses the file; this module walks the parsed tree once against
 *   the schema (config_schema.c) and copies every accepted value into plain
 *   arrays, one slot per schema row and section, so the getters never touch
 *   libconfig and a loaded config is immutable.
 *
 *   Every problem found during the walk goes through problem(): the first one
 *   becomes the error of mailsso_config_load_*(), and mailsso_config_check()
 *   prints all of them.
 *
 *   Section resolution of the getters:
 *     NULL       global and service keys at the top level
 *     "kcd"      kcd keys in the kcd group; global and service keys at the
 *                top level
 *     other      global keys at the top level; service keys in that group,
 *                then the top level
 *   and always the schema default when nothing is set.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include <mailsso/config.h>
#include <mailsso/util.h>

#include "config_internal.h"

typedef struct value {
    int set;              /* given explicitly in this cfg_section */
    char *str;            /* MAILSSO_CFG_STRING */
    long long num;        /* MAILSSO_CFG_INT, MAILSSO_CFG_BOOL */
    char **list;          /* MAILSSO_CFG_LIST: NULL-terminated */
    size_t n;             /* items in list */
} value;

typedef struct cfg_section {
    char *name;           /* group name; NULL for the top level */
    value *values;        /* one per schema row */
} cfg_section;

struct mailsso_config {
    char *origin;
    const mailsso_config_key *keys;
    size_t n_keys;
    value *defaults;      /* one per schema row */
    cfg_section top;
    cfg_section *groups;      /* service groups and kcd, in file order */
    size_t n_groups;
    char **services;      /* service groups present, NULL-terminated */
    size_t n_services;
};

/* State of one load: where problems go. */
typedef struct loader {
    const char *origin;
    FILE *out;            /* mailsso_config_check(): print every problem */
    int count;
    int first_code;
    char first[MAILSSO_ERROR_MESSAGE_MAX];
    char first_fix[MAILSSO_ERROR_FIX_MAX];
    const char *include_dir;  /* directory of the file, for @include */
    const char *const *extra_services;
    size_t n_extra_services;
} loader;

static const char *const empty_list[] = { NULL };

/* ------------------------------------------------------------------ memory */

static void
value_clear(value *v)
{
    free(v->str);
    if (v->list != NULL) {
        for (size_t i = 0; i < v->n; i++)
            free(v->list[i]);
        free(v->list);
    }
    memset(v, 0, sizeof(*v));
}

static void
section_clear(cfg_section *s, size_t n_keys)
{
    if (s->values != NULL) {
        for (size_t i = 0; i < n_keys; i++)
            value_clear(&s->values[i]);
        free(s->values);
    }
    free(s->name);
    s->values = NULL;
    s->name = NULL;
}

void
mailsso_config_free(mailsso_config *cfg)
{
    if (cfg == NULL)
        return;
    if (cfg->defaults != NULL) {
        for (size_t i = 0; i < cfg->n_keys; i++)
            value_clear(&cfg->defaults[i]);
        free(cfg->defaults);
    }
    section_clear(&cfg->top, cfg->n_keys);
    for (size_t i = 0; i < cfg->n_groups; i++)
        section_clear(&cfg->groups[i], cfg->n_keys);
    free(cfg->groups);
    free(cfg->services);    /* names are owned by groups */
    free(cfg->origin);
    free(cfg);
}

/* Copies the strings of a libconfig array/list; all items must be strings. */
static int
list_from_setting(const config_setting_t *s, value *v)
{
    int n = config_setting_length(s);

    v->list = calloc((size_t)n + 1, sizeof(char *));
    if (v->list == NULL)
        return MAILSSO_E_NOMEM;
    for (int i = 0; i < n; i++) {
        const char *item = config_setting_get_string_elem(s, i);
        v->list[i] = strdup(item != NULL ? item : "");
        if (v->list[i] == NULL)
            return MAILSSO_E_NOMEM;
        v->n++;
    }
    return 0;
}

/* Parses the schema default text of key k into v. */
static int
parse_default(const mailsso_config_key *k, value *v)
{
    const char *text = k->default_value != NULL ? k->default_value : "";
    config_t lc;
    config_setting_t *list;
    char *doc = NULL;
    int rc = 0;

    switch (k->type) {
    case MAILSSO_CFG_STRING:
        v->str = strdup(text);
        return v->str == NULL ? MAILSSO_E_NOMEM : 0;
    case MAILSSO_CFG_INT:
        v->num = strtoll(text, NULL, 0);
        return 0;
    case MAILSSO_CFG_BOOL:
        v->num = strcmp(text, "true") == 0;
        return 0;
    case MAILSSO_CFG_LIST:
        break;
    }
    if (asprintf(&doc, "v = %s;", text) < 0)
        return MAILSSO_E_NOMEM;
    config_init(&lc);
    list = config_read_string(&lc, doc) == CONFIG_TRUE ? config_lookup(&lc, "v") : NULL;
    if (list != NULL && config_setting_is_aggregate(list)) {
        rc = list_from_setting(list, v);
    } else {
        /* A schema bug (the unit test loads every default): an empty list. */
        v->list = calloc(1, sizeof(char *));
        rc = v->list == NULL ? MAILSSO_E_NOMEM : 0;
    }
    config_destroy(&lc);
    free(doc);
    return rc;
}

static mailsso_config *
config_new(const char *origin)
{
    mailsso_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL)
        return NULL;
    cfg->keys = mailsso_config_schema(&cfg->n_keys);
    cfg->origin = strdup(origin);
    cfg->defaults = calloc(cfg->n_keys, sizeof(value));
    cfg->top.values = calloc(cfg->n_keys, sizeof(value));
    cfg->services = calloc(1, sizeof(char *));
    if (cfg->origin == NULL || cfg->defaults == NULL || cfg->top.values == NULL ||
        cfg->services == NULL)
        goto fail;
    for (size_t i = 0; i < cfg->n_keys; i++) {
        if (parse_default(&cfg->keys[i], &cfg->defaults[i]) != 0)
            goto fail;
    }
    return cfg;
fail:
    mailsso_config_free(cfg);
    return NULL;
}

mailsso_config *
mailsso_config_defaults(void)
{
    return config_new("<defaults>");
}

const char *
mailsso_config_origin(const mailsso_config *cfg)
{
    return cfg != NULL ? cfg->origin : NULL;
}

/* ------------------------------------------------------------------ problems */

static void problem(loader *ld, int code, const char *fix, const char *fmt, ...)
    MAILSSO_PRINTF(4, 5);

static void
problem(loader *ld, int code, const char *fix, const char *fmt, ...)
{
    char line[MAILSSO_ERROR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (ld->count == 0) {
        ld->first_code = code;
        mailsso_strlcpy(ld->first, line, sizeof(ld->first));
        mailsso_strlcpy(ld->first_fix, fix != NULL ? fix : "", sizeof(ld->first_fix));
    }
    ld->count++;
    if (ld->out != NULL) {
        if (fix != NULL && fix[0] != '\0')
            fprintf(ld->out, "%s (fix: %s)\n", line, fix);
        else
            fprintf(ld->out, "%s\n", line);
    }
}

/* The name of a file libconfig read: included files, named relative to the
 * include directory, get that directory in front. */
static void
file_name(const loader *ld, const char *file, char *buf, size_t size)
{
    if (file == NULL)
        file = ld->origin;
    if (file[0] != '/' && ld->include_dir != NULL && strcmp(file, ld->origin) != 0)
        snprintf(buf, size, "%s/%s", ld->include_dir, file);
    else
        snprintf(buf, size, "%s", file);
}

/* "FILE:LINE" of a setting. */
static void
where(const loader *ld, const config_setting_t *s, char *buf, size_t size)
{
    char file[1100];

    file_name(ld, config_setting_source_file(s), file, sizeof(file));
    snprintf(buf, size, "%s:%u", file, config_setting_source_line(s));
}

/* "name" at the top level, "group.name" inside a group. */
static void
key_path(const char *group, const char *name, char *buf, size_t size)
{
    if (group != NULL)
        snprintf(buf, size, "%s.%s", group, name);
    else
        snprintf(buf, size, "%s", name);
}

static const char *
libconfig_type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a floating point number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST:
        return "a list";
    }
    return "an unknown type";
}

static const char *
type_example(mailsso_config_type type)
{
    switch (type) {
    case MAILSSO_CFG_STRING:
        return "write it in double quotes: key = \"value\";";
    case MAILSSO_CFG_INT:
        return "write a number without quotes: key = 30;";
    case MAILSSO_CFG_BOOL:
        return "write true or false without quotes";
    case MAILSSO_CFG_LIST:
        return "write a list of quoted strings: key = [\"a\", \"b\"]; (or [] for none)";
    }
    return "";
}

/* Edit distance, for "did you mean" hints; short names only. */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[64];

    if (la >= MAILSSO_ARRAY_LEN(row) || lb >= MAILSSO_ARRAY_LEN(row))
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Closest key name valid in scope (and, at the top level, GLOBAL too). */
static const char *
suggest_key(const char *name, mailsso_config_scope scope)
{
    size_t n, best_d = 3;
    const mailsso_config_key *keys = mailsso_config_schema(&n);
    const char *best = NULL;

    for (size_t i = 0; i < n; i++) {
        int fits = keys[i].scope == scope ||
                   (scope == MAILSSO_SCOPE_GLOBAL && keys[i].scope == MAILSSO_SCOPE_SERVICE);
        size_t d;
        if (!fits)
            continue;
        d = distance(name, keys[i].name);
        if (d < best_d) {
            best_d = d;
            best = keys[i].name;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ the walk */

static int
is_service_name(const loader *ld, const char *name)
{
    for (size_t i = 0; mailsso_config_builtin_services[i] != NULL; i++) {
        if (strcmp(name, mailsso_config_builtin_services[i]) == 0)
            return 1;
    }
    for (size_t i = 0; i < ld->n_extra_services; i++) {
        if (strcmp(name, ld->extra_services[i]) == 0)
            return 1;
    }
    return 0;
}

static int
mode_from_decimal_digits(long long dec, long long *mode_out)
{
    long long mode = 0, scale = 1;

    if (dec < 0)
        return -1;
    do {
        long long digit = dec % 10;
        if (digit > 7)
            return -1;
        mode += digit * scale;
        scale *= 8;
        dec /= 10;
    } while (dec > 0 && scale <= 0100000);
    if (dec > 0)
        return -1;
    *mode_out = mode;
    return 0;
}

/* Checks setting s against key k and stores it in v. */
static void
take_value(loader *ld, const char *group, const mailsso_config_key *k,
           const config_setting_t *s, value *v)
{
    char loc[1200], path[256];
    mailsso_error cerr = MAILSSO_ERROR_INIT;
    int type = config_setting_type(s);
    value tmp = { 0 };

    where(ld, s, loc, sizeof(loc));
    key_path(group, k->name, path, sizeof(path));

    switch (k->type) {
    case MAILSSO_CFG_STRING:
        if (type != CONFIG_TYPE_STRING)
            goto wrong_type;
        tmp.str = strdup(config_setting_get_string(s));
        if (tmp.str == NULL)
            goto nomem;
        if (k->check != NULL && k->check(tmp.str, &cerr) != 0)
            goto bad_value;
        break;
    case MAILSSO_CFG_INT:
        if (type == CONFIG_TYPE_INT)
            tmp.num = config_setting_get_int(s);
        else if (type == CONFIG_TYPE_INT64)
            tmp.num = config_setting_get_int64(s);
        else
            goto wrong_type;
        if (k->check == mailsso_config_check_mode &&
            config_setting_get_format(s) != CONFIG_FORMAT_HEX) {
            long long dec = tmp.num;
            if (mode_from_decimal_digits(dec, &tmp.num) != 0) {
                problem(ld, MAILSSO_E_CONFIG, "write the mode as with chmod, e.g. 0660",
                        "%s: key '%s': %lld is not an octal file mode (digits 0 to 7 only)",
                        loc, path, dec);
                goto out;
            }
        }
        if (k->check != NULL && k->check(&tmp.num, &cerr) != 0)
            goto bad_value;
        break;
    case MAILSSO_CFG_BOOL: {
        int b;
        if (type != CONFIG_TYPE_BOOL)
            goto wrong_type;
        b = config_setting_get_bool(s);
        tmp.num = b;
        if (k->check != NULL && k->check(&b, &cerr) != 0)
            goto bad_value;
        break;
    }
    case MAILSSO_CFG_LIST: {
        int n;
        if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
            goto wrong_type;
        n = config_setting_length(s);
        for (int i = 0; i < n; i++) {
            const config_setting_t *item = config_setting_get_elem(s, (unsigned)i);
            if (config_setting_type(item) != CONFIG_TYPE_STRING) {
                problem(ld, MAILSSO_E_CONFIG, type_example(k->type),
                        "%s: key '%s': wrong type: item %d is %s, expected a string in "
                        "double quotes", loc, path, i + 1,
                        libconfig_type_name(config_setting_type(item)));
                goto out;
            }
        }
        if (list_from_setting(s, &tmp) != 0)
            goto nomem;
        for (size_t i = 0; k->check != NULL && i < tmp.n; i++) {
            if (k->check(tmp.list[i], &cerr) != 0) {
                problem(ld, cerr.code, cerr.fix, "%s: key '%s': item %zu: %s", loc, path, i + 1,
                        cerr.message);
                goto out;
            }
        }
        break;
    }
    }
    value_clear(v);
    *v = tmp;
    v->set = 1;
    return;

wrong_type:
    problem(ld, MAILSSO_E_CONFIG, type_example(k->type),
            "%s: key '%s': wrong type: expected %s, got %s", loc, path,
            mailsso_config_type_name(k->type), libconfig_type_name(type));
    goto out;
bad_value:
    problem(ld, cerr.code != 0 ? cerr.code : MAILSSO_E_CONFIG, cerr.fix, "%s: key '%s': %s",
            loc, path, cerr.message[0] != '\0' ? cerr.message : "invalid value");
    goto out;
nomem:
    problem(ld, MAILSSO_E_NOMEM, NULL, "%s: key '%s': out of memory", loc, path);
out:
    value_clear(&tmp);
}

/* A key that exists, but not where it was written. */
static int
misplaced(loader *ld, const char *group, const config_setting_t *s, mailsso_config_scope here)
{
    const char *name = config_setting_name(s);
    char loc[1200], path[256];

    where(ld, s, loc, sizeof(loc));
    key_path(group, name, path, sizeof(path));
    if (here != MAILSSO_SCOPE_KCD && mailsso_config_find_key(name, MAILSSO_SCOPE_KCD) != NULL) {
        problem(ld, MAILSSO_E_CONFIG, "move it into kcd = { ... };",
                "%s: key '%s': not valid here: '%s' is a setting of the group 'kcd'", loc, path,
                name);
        return 1;
    }
    if (here != MAILSSO_SCOPE_GLOBAL && mailsso_config_find_key(name, MAILSSO_SCOPE_GLOBAL)) {
        problem(ld, MAILSSO_E_CONFIG, "move it to the top level of the file",
                "%s: key '%s': not valid inside a group: '%s' is a global setting", loc, path,
                name);
        return 1;
    }
    if (here == MAILSSO_SCOPE_KCD && mailsso_config_find_key(name, MAILSSO_SCOPE_SERVICE)) {
        problem(ld, MAILSSO_E_CONFIG,
                "set it at the top level or in a service group such as imap = { ... };",
                "%s: key '%s': not valid in the group 'kcd': '%s' is a service setting", loc,
                path, name);
        return 1;
    }
    return 0;
}

static void
unknown_key(loader *ld, const char *group, const config_setting_t *s, mailsso_config_scope scope)
{
    const char *name = config_setting_name(s);
    const char *hint = suggest_key(name, scope);
    char loc[1200], path[256], fix[300];

    if (misplaced(ld, group, s, scope))
        return;
    where(ld, s, loc, sizeof(loc));
    key_path(group, name, path, sizeof(path));
    if (hint != NULL)
        snprintf(fix, sizeof(fix), "did you mean '%s'? See mailsso.conf(5) for the keys", hint);
    else
        snprintf(fix, sizeof(fix), "remove it; see mailsso.conf(5) for the keys");
    problem(ld, MAILSSO_E_CONFIG, fix, "%s: key '%s': unknown key%s%s%s", loc, path,
            hint != NULL ? " (did you mean '" : "", hint != NULL ? hint : "",
            hint != NULL ? "'?)" : "");
}

static void
walk_group(loader *ld, const config_setting_t *g, mailsso_config_scope scope, cfg_section *sec)
{
    const char *group = config_setting_name(g);
    int n = config_setting_length(g);

    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        const mailsso_config_key *k = mailsso_config_find_key(name, scope);
        char loc[1200];

        if (k != NULL) {
            take_value(ld, group, k, s, &sec->values[k - mailsso_config_schema(NULL)]);
            continue;
        }
        if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
            where(ld, s, loc, sizeof(loc));
            problem(ld, MAILSSO_E_CONFIG, "groups do not nest; see mailsso.conf(5)",
                    "%s: group '%s.%s': unknown group: groups cannot be nested", loc, group,
                    name);
            continue;
        }
        unknown_key(ld, group, s, scope);
    }
}

static cfg_section *
add_group(mailsso_config *cfg, const char *name, int is_service)
{
    cfg_section *groups = realloc(cfg->groups, (cfg->n_groups + 1) * sizeof(cfg_section));
    cfg_section *sec;

    if (groups == NULL)
        return NULL;
    cfg->groups = groups;
    sec = &cfg->groups[cfg->n_groups];
    sec->name = strdup(name);
    sec->values = calloc(cfg->n_keys, sizeof(value));
    if (sec->name == NULL || sec->values == NULL) {
        section_clear(sec, cfg->n_keys);
        return NULL;
    }
    cfg->n_groups++;
    if (is_service) {
        char **services = realloc(cfg->services, (cfg->n_services + 2) * sizeof(char *));
        if (services == NULL)
            return NULL;
        cfg->services = services;
        cfg->services[cfg->n_services++] = sec->name;
        cfg->services[cfg->n_services] = NULL;
    }
    return sec;
}

static void
walk_root(loader *ld, mailsso_config *cfg, const config_setting_t *root)
{
    const mailsso_config_key *services_key = mailsso_config_find_key("services",
                                                                      MAILSSO_SCOPE_GLOBAL);
    const mailsso_config_key *base = mailsso_config_schema(NULL);
    int n = config_setting_length(root);

    /* "services" first: it decides which groups are service groups. */
    if (services_key != NULL) {
        const config_setting_t *s = config_setting_get_member(root, "services");
        if (s != NULL) {
            value *v = &cfg->top.values[services_key - base];
            take_value(ld, NULL, services_key, s, v);
            ld->extra_services = (const char *const *)v->list;
            ld->n_extra_services = v->n;
        }
    }

    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        const mailsso_config_key *k;
        char loc[1200], fix[400];

        if (s == NULL || name == NULL)
            continue;
        if (services_key != NULL && strcmp(name, services_key->name) == 0)
            continue;
        if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
            int kcd = strcmp(name, MAILSSO_CONFIG_KCD_GROUP) == 0;
            if (kcd || is_service_name(ld, name)) {
                cfg_section *sec = add_group(cfg, name, !kcd);
                if (sec == NULL) {
                    problem(ld, MAILSSO_E_NOMEM, NULL, "out of memory");
                    return;
                }
                walk_group(ld, s, kcd ? MAILSSO_SCOPE_KCD : MAILSSO_SCOPE_SERVICE, sec);
                continue;
            }
            k = mailsso_config_find_key(name, MAILSSO_SCOPE_GLOBAL);
            if (k == NULL)
                k = mailsso_config_find_key(name, MAILSSO_SCOPE_SERVICE);
            if (k != NULL) {
                take_value(ld, NULL, k, s, &cfg->top.values[k - base]); /* wrong type */
                continue;
            }
            where(ld, s, loc, sizeof(loc));
            snprintf(fix, sizeof(fix),
                     "service groups are smtp, submission, imap, pop, sieve, lmtp, http and "
                     "the names in services = [...]; add services = [\"%s\"]; for a new one",
                     name);
            problem(ld, MAILSSO_E_CONFIG, fix,
                    "%s: group '%s': unknown group (not a service group, not kcd)", loc, name);
            continue;
        }
        k = mailsso_config_find_key(name, MAILSSO_SCOPE_GLOBAL);
        if (k == NULL)
            k = mailsso_config_find_key(name, MAILSSO_SCOPE_SERVICE);
        if (k != NULL) {
            take_value(ld, NULL, k, s, &cfg->top.values[k - base]);
            continue;
        }
        if (strcmp(name, MAILSSO_CONFIG_KCD_GROUP) == 0 || is_service_name(ld, name)) {
            where(ld, s, loc, sizeof(loc));
            snprintf(fix, sizeof(fix), "write %s = { key = value; ... };", name);
            problem(ld, MAILSSO_E_CONFIG, fix,
                    "%s: key '%s': wrong type: expected a group, got %s", loc, name,
                    libconfig_type_name(config_setting_type(s)));
            continue;
        }
        unknown_key(ld, NULL, s, MAILSSO_SCOPE_GLOBAL);
    }
}

/* Parses (file or text) and walks. On return *cfg_out is set when the walk ran
 * (even with problems); ld->count says whether it is valid. */
static int
load(const char *path, const char *text, const char *origin, loader *ld,
     mailsso_config **cfg_out)
{
    config_t lc;
    mailsso_config *cfg = NULL;
    char *dir = NULL;
    int ok, rc = 0;

    config_init(&lc);
    if (path != NULL) {
        FILE *f = fopen(path, "r");
        char *slash;
        if (f == NULL) {
            int e = errno;
            char fix[600];
            snprintf(fix, sizeof(fix), e == ENOENT
                     ? "create it (see mailsso.conf(5) and the annotated sample) or name "
                       "another file"
                     : "check the permissions of %s and its directories", path);
            problem(ld, MAILSSO_E_IO, fix, "%s: cannot read the configuration file: %s", path,
                    strerror(e));
            rc = MAILSSO_E_IO;
            goto cleanup;
        }
        fclose(f);
        dir = strdup(path);
        if (dir == NULL) {
            rc = MAILSSO_E_NOMEM;
            goto cleanup;
        }
        slash = strrchr(dir, '/');
        if (slash != NULL) {
            slash[slash == dir ? 1 : 0] = '\0';
            config_set_include_dir(&lc, dir);
            ld->include_dir = dir;
        }
        ok = config_read_file(&lc, path);
    } else {
        ok = config_read_string(&lc, text);
    }
    if (ok != CONFIG_TRUE) {
        const char *why = config_error_text(&lc);
        int io = config_error_type(&lc) == CONFIG_ERR_FILE_IO;
        char file[1100];

        if (why == NULL)
            why = "cannot parse";
        if (strcmp(why, "syntax error") == 0)
            why = "malformed setting (expected name = value; with strings in double quotes, "
                  "lists in [ ] and a ';' after each setting)";
        file_name(ld, config_error_file(&lc), file, sizeof(file));
        rc = io ? MAILSSO_E_IO : MAILSSO_E_PARSE;
        problem(ld, rc, "see the syntax in mailsso.conf(5)", "%s:%d: %s: %s", file,
                config_error_line(&lc), io ? "cannot read" : "syntax error", why);
        goto cleanup;
    }
    cfg = config_new(origin);
    if (cfg == NULL) {
        rc = MAILSSO_E_NOMEM;
        goto cleanup;
    }
    walk_root(ld, cfg, config_root_setting(&lc));
    *cfg_out = cfg;
    cfg = NULL;

cleanup:
    config_destroy(&lc);
    ld->include_dir = NULL;
    free(dir);
    return rc;
}

static int
load_finish(loader *ld, int rc, mailsso_config *cfg, mailsso_config **cfg_out,
            mailsso_error *err)
{
    if (rc == 0 && ld->count == 0) {
        *cfg_out = cfg;
        return 0;
    }
    mailsso_config_free(cfg);
    if (ld->count == 0)
        return mailsso_error_set(err, rc != 0 ? rc : MAILSSO_E_CONFIG, "%s: cannot load",
                                 ld->origin);
    if (ld->count > 1)
        rc = mailsso_error_set(err, ld->first_code, "%s (and %d more problem%s)", ld->first,
                               ld->count - 1, ld->count > 2 ? "s" : "");
    else
        rc = mailsso_error_set(err, ld->first_code, "%s", ld->first);
    if (err != NULL && ld->first_fix[0] != '\0')
        mailsso_error_set_fix(err, "%s", ld->first_fix);
    return ld->first_code;
}

int
mailsso_config_load_file(const char *path, mailsso_config **cfg_out, mailsso_error *err)
{
    loader ld = { 0 };
    mailsso_config *cfg = NULL;
    int rc;

    if (cfg_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_config_load_file: no cfg_out");
    if (path == NULL)
        path = MAILSSO_DEFAULT_CONFIG;
    ld.origin = path;
    rc = load(path, NULL, path, &ld, &cfg);
    return load_finish(&ld, rc, cfg, cfg_out, err);
}

int
mailsso_config_load_string(const char *text, const char *origin, mailsso_config **cfg_out,
                           mailsso_error *err)
{
    loader ld = { 0 };
    mailsso_config *cfg = NULL;
    int rc;

    if (cfg_out == NULL || text == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID,
                                 "mailsso_config_load_string: no text or cfg_out");
    if (origin == NULL)
        origin = "<string>";
    ld.origin = origin;
    rc = load(NULL, text, origin, &ld, &cfg);
    return load_finish(&ld, rc, cfg, cfg_out, err);
}

int
mailsso_config_check(const char *path, FILE *out)
{
    loader ld = { 0 };
    mailsso_config *cfg = NULL;
    int rc;

    if (path == NULL)
        path = MAILSSO_DEFAULT_CONFIG;
    ld.origin = path;
    ld.out = out;
    rc = load(path, NULL, path, &ld, &cfg);
    mailsso_config_free(cfg);
    if (ld.count > 0)
        return ld.first_code;
    return rc;
}

/* ------------------------------------------------------------------ getters */

static const cfg_section *
find_group(const mailsso_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_groups; i++) {
        if (strcmp(cfg->groups[i].name, name) == 0)
            return &cfg->groups[i];
    }
    return NULL;
}

/* The schema row a (section, key) pair names, or NULL. */
static const mailsso_config_key *
resolve_key(const mailsso_config *cfg, const char *section_name, const char *key)
{
    const mailsso_config_key *k = NULL;

    if (section_name != NULL && strcmp(section_name, MAILSSO_CONFIG_KCD_GROUP) == 0)
        k = mailsso_config_find_key(key, MAILSSO_SCOPE_KCD);
    if (k == NULL)
        k = mailsso_config_find_key(key, MAILSSO_SCOPE_GLOBAL);
    if (k == NULL)
        k = mailsso_config_find_key(key, MAILSSO_SCOPE_SERVICE);
    return k;
}

static const value *
lookup(const mailsso_config *cfg, const char *section_name, const char *key,
       mailsso_config_type type)
{
    const mailsso_config_key *k;
    const cfg_section *sec;
    size_t idx;

    if (cfg == NULL || key == NULL)
        return NULL;
    k = resolve_key(cfg, section_name, key);
    if (k == NULL || k->type != type)
        return NULL;
    idx = (size_t)(k - cfg->keys);
    switch (k->scope) {
    case MAILSSO_SCOPE_KCD:
        sec = find_group(cfg, MAILSSO_CONFIG_KCD_GROUP);
        if (sec != NULL && sec->values[idx].set)
            return &sec->values[idx];
        break;
    case MAILSSO_SCOPE_SERVICE:
        if (section_name != NULL) {
            sec = find_group(cfg, section_name);
            if (sec != NULL && sec->values[idx].set)
                return &sec->values[idx];
        }
        /* fall through */
    case MAILSSO_SCOPE_GLOBAL:
        if (cfg->top.values[idx].set)
            return &cfg->top.values[idx];
        break;
    }
    return &cfg->defaults[idx];
}

const char *
mailsso_config_get_string(const mailsso_config *cfg, const char *section, const char *key)
{
    const value *v = lookup(cfg, section, key, MAILSSO_CFG_STRING);

    return v != NULL ? v->str : NULL;
}

long long
mailsso_config_get_int(const mailsso_config *cfg, const char *section, const char *key)
{
    const value *v = lookup(cfg, section, key, MAILSSO_CFG_INT);

    return v != NULL ? v->num : 0;
}

int
mailsso_config_get_bool(const mailsso_config *cfg, const char *section, const char *key)
{
    const value *v = lookup(cfg, section, key, MAILSSO_CFG_BOOL);

    return v != NULL ? (int)v->num : 0;
}

size_t
mailsso_config_get_list(const mailsso_config *cfg, const char *section, const char *key,
                        const char *const **items_out)
{
    const value *v = lookup(cfg, section, key, MAILSSO_CFG_LIST);

    if (v == NULL || v->list == NULL) {
        if (items_out != NULL)
            *items_out = empty_list;
        return 0;
    }
    if (items_out != NULL)
        *items_out = (const char *const *)v->list;
    return v->n;
}

int
mailsso_config_is_set(const mailsso_config *cfg, const char *section_name, const char *key)
{
    const mailsso_config_key *k;
    const cfg_section *sec;

    if (cfg == NULL || key == NULL)
        return 0;
    k = resolve_key(cfg, section_name, key);
    if (k == NULL)
        return 0;
    if (section_name == NULL)
        return cfg->top.values[k - cfg->keys].set;
    if (k->scope == MAILSSO_SCOPE_GLOBAL ||
        (k->scope == MAILSSO_SCOPE_SERVICE && strcmp(section_name, MAILSSO_CONFIG_KCD_GROUP) == 0))
        return 0;    /* such keys are only ever set at the top level */
    sec = find_group(cfg, section_name);
    return sec != NULL && sec->values[k - cfg->keys].set;
}

size_t
mailsso_config_services(const mailsso_config *cfg, const char *const **names_out)
{
    if (cfg == NULL) {
        if (names_out != NULL)
            *names_out = empty_list;
        return 0;
    }
    if (names_out != NULL)
        *names_out = (const char *const *)cfg->services;
    return cfg->n_services;
}
