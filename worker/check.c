/*
 * check.c - the checks of restore-worker check and of run's start (see check.h).
 *
 * Two tables say what is checked: host_checks[] once, target_checks[] for each target. Each
 * check is a function that fills a message and returns ok, warning or failed; it changes
 * nothing. Database checks share one login per target (database_open, as a restore logs in,
 * so its errors name the database, user, host and port and never a password).
 *
 * The file system's checks are in check_files.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "check_parts.h"
#include "conninfo.h"
#include "database.h"
#include "notify.h"
#include "pg_client.h"
#include "dump.h"
#include "target_empty.h"
#include "version.h"

#define CHECK_MESSAGE_MAX 1024

static check_fn check_login, check_rights, check_pg_restore, check_pg_dump, check_restores;

/* target_protected: allow_restore is false. */
static bool
target_protected(const struct config_target *t)
{
	return !t->allow_restore;
}

/* target_in_folder: its file store is a folder (blob_dir). */
static bool
target_in_folder(const struct config_target *t)
{
	return t->blob_dir != NULL;
}

/* target_in_objects: its file store is an S3 bucket or an Azure container. */
static bool
target_in_objects(const struct config_target *t)
{
	return t->blob_dir == NULL;
}

/* target_hooked: it has a before_restore or an after_restore. */
static bool
target_hooked(const struct config_target *t)
{
	return t->before_restore != NULL || t->after_restore != NULL;
}

/*
 * The checks of each target, in order. needs_login: left out when the login failed; applies
 * (NULL: always): shown only for a target it holds for.
 */
static const struct {
	const char *name;
	check_fn *run;
	bool needs_login;
	bool (*applies)(const struct config_target *t);
} target_checks[] = {
    {"restores", check_restores, false, target_protected},
    {"database login", check_login, false, NULL},
    {"database rights", check_rights, true, NULL},
    {"pg_restore version", check_pg_restore, true, NULL},
    {"pg_dump version", check_pg_dump, true, NULL},
    {"plan quota", check_quota, false, NULL},
    {"blob_dir swap", check_blob_swap, false, target_in_folder},
    {"blob_dir access", check_blob_access, false, target_in_folder},
    {"object store access", check_blob_access, false, target_in_objects},
    {"hooks", check_hooks, false, target_hooked},
};

/*
 * The checks of the host, once.
 */
static const struct {
	const char *name;
	host_check_fn *run;
} host_checks[] = {
    {"spool", check_spool},
    {"work_dir free space", check_work_dir},
};

/* check_add: append a result to list (copying the strings); counts it. */
static void
check_add(struct check_list *list, const char *target, const char *name, enum check_status status,
          const char *message)
{
	struct check_result *more, *r;

	more = realloc(list->items, (list->count + 1) * sizeof(*more));
	if (more == NULL) {
		list->out_of_memory = 1;
		return;
	}
	list->items = more;
	r = &more[list->count];
	r->target = target != NULL ? strdup(target) : NULL;
	r->name = strdup(name);
	r->message = strdup(message);
	r->status = status;
	if ((target != NULL && r->target == NULL) || r->name == NULL || r->message == NULL) {
		free(r->target);
		free(r->name);
		free(r->message);
		list->out_of_memory = 1;
		return;
	}
	list->count++;
	if (status == CHECK_FAILED)
		list->failed++;
	else if (status == CHECK_WARNING)
		list->warnings++;
}

/* check_restores: a protected target (allow_restore: false) is said to take no restore. */
static enum check_status
check_restores(struct check_target *ct, char *msg, size_t len)
{
	snprintf(msg, len,
	         "target %s: allow_restore is false: every restore into it is refused (backups "
	         "still run)",
	         ct->t->name);
	return CHECK_OK;
}

/* check_login: a login to the target's database, as a restore makes it. */
static enum check_status
check_login(struct check_target *ct, char *msg, size_t len)
{
	enum database_open_failure why;
	char err[CHECK_MESSAGE_MAX];
	PGconn *conn;

	if (database_open(ct->t->database, &ct->db, &why, err, sizeof(err)) < 0) {
		snprintf(msg, len,
		         "target %s: %s; check its database: connection string and the server",
		         ct->t->name, err);
		return CHECK_FAILED;
	}
	conn = database_conn(ct->db);
	ct->server_major = PQserverVersion(conn) / 10000;
	snprintf(msg, len, "target %s: logged in to database %s as role %s (PostgreSQL %s)",
	         ct->t->name, database_name(ct->db), PQuser(conn),
	         PQparameterStatus(conn, "server_version"));
	conninfo_scrub(database_secrets(ct->db), msg, len);
	return CHECK_OK;
}

/* The role and the database, for the rights check; any role may run it. */
static const char rights_sql[] =
    "SELECT pg_catalog.pg_get_userbyid(d.datdba), r.rolsuper, r.rolcreatedb, "
    "       pg_catalog.pg_has_role(d.datdba, 'USAGE'), "
    "       pg_catalog.has_database_privilege(d.oid, 'CREATE'), "
    "       EXISTS (SELECT 1 FROM pg_catalog.pg_database m WHERE m.datname = $1) "
    "  FROM pg_catalog.pg_database d, pg_catalog.pg_roles r "
    " WHERE d.datname = pg_catalog.current_database() AND r.rolname = CURRENT_USER";

/*
 * check_rights: what the target's strategy needs of the role: swap, CREATEDB and owning the
 * database (or a superuser) and the maintenance database; transaction, creating schemas in
 * the database and dropping everything a restore removes (target_empty_check).
 */
static enum check_status
check_rights(struct check_target *ct, char *msg, size_t len)
{
	PGconn *conn = database_conn(ct->db);
	const char *params[] = {ct->t->maintenance_database};
	const char *name = ct->t->name, *db = database_name(ct->db), *role = PQuser(conn);
	char err[CHECK_MESSAGE_MAX];
	enum check_status status = CHECK_FAILED;
	bool super, createdb, owns, create;
	PGresult *res;

	res = PQexecParams(conn, rights_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(msg, len,
		         "target %s: cannot read the rights of role %s on database %s: %s", name,
		         role, db, PQerrorMessage(conn));
		msg[strcspn(msg, "\n")] = '\0';
		goto done;
	}
	super = PQgetvalue(res, 0, 1)[0] == 't';
	createdb = PQgetvalue(res, 0, 2)[0] == 't';
	owns = PQgetvalue(res, 0, 3)[0] == 't';
	create = PQgetvalue(res, 0, 4)[0] == 't';
	if (ct->t->strategy == RESTORE_STRATEGY_SWAP) {
		if (!super && !createdb)
			snprintf(
			    msg, len,
			    "target %s: strategy swap restores into a new database, and role %s "
			    "may not create databases; give it CREATEDB (ALTER ROLE %s CREATEDB) "
			    "or use strategy: transaction",
			    name, role, role);
		else if (!super && !owns)
			snprintf(
			    msg, len,
			    "target %s: strategy swap renames database %s, which belongs to role "
			    "%s, not to role %s; make it the owner (ALTER DATABASE %s OWNER TO %s) "
			    "or use strategy: transaction",
			    name, db, PQgetvalue(res, 0, 0), role, db, role);
		else if (PQgetvalue(res, 0, 5)[0] != 't')
			snprintf(msg, len,
			         "target %s: the maintenance database %s does not exist; set "
			         "maintenance_database: to a database role %s may connect to",
			         name, ct->t->maintenance_database, role);
		else {
			snprintf(msg, len, "target %s: role %s may swap database %s (owner %s, %s)",
			         name, role, db, PQgetvalue(res, 0, 0),
			         super ? "superuser" : "CREATEDB");
			status = CHECK_OK;
		}
	} else if (!create) {
		snprintf(
		    msg, len,
		    "target %s: role %s may not create schemas in database %s, which a restore "
		    "recreates; make it the database's owner (ALTER DATABASE %s OWNER TO %s)",
		    name, role, db, db, role);
	} else if (target_empty_check(conn, err, sizeof(err)) < 0) {
		snprintf(msg, len, "target %s: %s", name, err);
	} else {
		snprintf(msg, len,
		         "target %s: role %s may empty and restore database %s (owner %s)", name,
		         role, db, PQgetvalue(res, 0, 0));
		status = CHECK_OK;
	}
done:
	PQclear(res);
	conninfo_scrub(database_secrets(ct->db), msg, len);
	return status;
}

/*
 * check_pg_restore: the pg_restore programs a restore picks from, and which dumps they
 * restore. An older pg_restore than the server is no fault: what it can read is a matter of
 * the dump's archive version (the server matrix restores with pg_restore 15 into servers up
 * to 18). A max_dump_version above what any of them reads is a warning.
 */
static enum check_status
check_pg_restore(struct check_target *ct, char *msg, size_t len)
{
	const struct config_target *t = ct->t;
	const struct pg_client *newest;
	struct pg_client_set set;
	char err[CHECK_MESSAGE_MAX], why[256], found[CHECK_MESSAGE_MAX];
	enum check_status status = CHECK_FAILED;
	bool from_config;
	int limit;

	if (pg_client_find(&set, "pg_restore", ct->config->pg_restore, NULL,
	                   (const char *const *)ct->config->pg_client_dirs, err, sizeof(err)) < 0 ||
	    (limit = restore_version_limit(&set, t->max_dump_major, t->max_dump_minor, t->name, why,
	                                   sizeof(why), &from_config, err, sizeof(err))) < 0) {
		snprintf(msg, len, "target %s: %s", t->name, err);
		goto done;
	}
	newest = pg_client_newest(&set);
	pg_client_describe(&set, found, sizeof(found));
	if (!from_config && t->max_dump_major == 1 && t->max_dump_minor > limit) {
		snprintf(msg, len,
		         "target %s: %s; its max_dump_version is %d.%d, but they read up to 1.%d: "
		         "install postgresql-client-%d (or newer) for dumps up to %d.%d",
		         t->name, found, t->max_dump_major, t->max_dump_minor,
		         newest->archive_minor, dump_first_postgresql(t->max_dump_minor),
		         t->max_dump_major, t->max_dump_minor);
		status = CHECK_WARNING;
		goto done;
	}
	snprintf(msg, len,
	         "target %s: %s, for a server of PostgreSQL %d; dumps up to 1.%d are "
	         "restored (%s)",
	         t->name, found, ct->server_major, limit, why);
	status = CHECK_OK;
done:
	pg_client_set_free(&set);
	return status;
}

/*
 * check_pg_dump: the pg_dump of backups and keep_previous, as a backup picks it: none that
 * dumps the server is a failure, one whose dumps are newer than max_dump_version a warning
 * (those backups are refused).
 */
static enum check_status
check_pg_dump(struct check_target *ct, char *msg, size_t len)
{
	const struct config_target *t = ct->t;
	const char *what = t->keep_previous ? "backups and keep_previous" : "backups";
	const struct pg_client *pick;
	struct pg_client_set set;
	char err[CHECK_MESSAGE_MAX], found[CHECK_MESSAGE_MAX], advice[CHECK_MESSAGE_MAX];
	enum check_status status = CHECK_FAILED;

	if (pg_client_find(&set, "pg_dump", ct->config->pg_dump, ct->config->pg_restore,
	                   (const char *const *)ct->config->pg_client_dirs, err, sizeof(err)) < 0) {
		snprintf(msg, len, "target %s: %s; %s would fail", t->name, err, what);
		goto done;
	}
	pick = pg_client_for_server(&set, ct->server_major);
	if (pick == NULL) {
		pg_client_describe(&set, found, sizeof(found));
		pg_client_advice(&set, ct->server_major, advice, sizeof(advice));
		snprintf(
		    msg, len,
		    "target %s: its server (PostgreSQL %d) needs the pg_dump of PostgreSQL %d or "
		    "later (found: %s), so %s would fail; %s",
		    t->name, ct->server_major, ct->server_major, found, what, advice);
	} else if (t->max_dump_major == 1 && pick->archive_minor > t->max_dump_minor) {
		snprintf(
		    msg, len,
		    "target %s: %s (PostgreSQL %s) dumps its server (PostgreSQL %d) in archive "
		    "version 1.%d, newer than its max_dump_version %d.%d, so %s would be "
		    "refused; set max_dump_version: \"1.%d\"%s",
		    t->name, pick->path, pick->version, ct->server_major, pick->archive_minor,
		    t->max_dump_major, t->max_dump_minor, what, pick->archive_minor,
		    pick->major > ct->server_major && !set.pinned
		        ? ", or install the client of the server's own major"
		        : "");
		status = CHECK_WARNING;
	} else {
		snprintf(msg, len,
		         "target %s: %s (PostgreSQL %s, archive version 1.%d) dumps its server "
		         "(PostgreSQL %d)",
		         t->name, pick->path, pick->version, pick->archive_minor, ct->server_major);
		status = CHECK_OK;
	}
done:
	pg_client_set_free(&set);
	return status;
}

void
check_config_warnings(const struct config *config, const char *target, struct check_list *list)
{
	size_t shown = 0;
	int fd = open(config->path, O_RDONLY | O_CLOEXEC);

	/* Read as root, it may still be out of the worker's user's reach (check runs as it). */
	if (fd < 0) {
		char msg[CHECK_MESSAGE_MAX], user[64];

		check_user_name(user, sizeof(user));
		snprintf(msg, sizeof(msg),
		         "%s cannot be read by user %s, as whom the checks run (%s): give that "
		         "user's group read access to it (chgrp GROUP; chmod g+r)",
		         config->path, user, strerror(errno));
		check_add(list, NULL, "configuration", CHECK_FAILED, msg);
		return;
	}
	(void)close(fd); /* only read */
	for (size_t i = 0; i < config->nwarnings; i++) {
		const struct config_warning *w = &config->warnings[i];

		if (target != NULL && w->target != NULL && strcmp(w->target, target) != 0)
			continue;
		check_add(list, w->target, "configuration", CHECK_WARNING, w->text);
		shown++;
	}
	if (shown == 0) {
		char msg[CHECK_MESSAGE_MAX];

		snprintf(msg, sizeof(msg), "%s loads (%zu target%s)", config->path,
		         config->ntargets, config->ntargets == 1 ? "" : "s");
		check_add(list, NULL, "configuration", CHECK_OK, msg);
	}
}

void
check_run(const struct config *config, const char *target, struct check_list *list)
{
	char msg[CHECK_MESSAGE_MAX];

	for (size_t i = 0; i < config->ntargets; i++) {
		struct check_target ct = {config, &config->targets[i], NULL, 0};

		if (target != NULL && strcmp(ct.t->name, target) != 0)
			continue;
		for (size_t k = 0; k < sizeof(target_checks) / sizeof(target_checks[0]); k++) {
			enum check_status status;

			if ((target_checks[k].needs_login && ct.db == NULL) ||
			    (target_checks[k].applies != NULL && !target_checks[k].applies(ct.t)))
				continue;
			msg[0] = '\0';
			status = target_checks[k].run(&ct, msg, sizeof(msg));
			check_add(list, ct.t->name, target_checks[k].name, status, msg);
		}
		database_close(ct.db);
	}
	for (size_t k = 0; k < sizeof(host_checks) / sizeof(host_checks[0]); k++) {
		enum check_status status;

		msg[0] = '\0';
		status = host_checks[k].run(config, target, msg, sizeof(msg));
		check_add(list, NULL, host_checks[k].name, status, msg);
	}
}

const char *
check_status_name(enum check_status status)
{
	return status == CHECK_OK ? "ok" : status == CHECK_WARNING ? "warning" : "failed";
}

void
check_list_free(struct check_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].target);
		free(list->items[i].name);
		free(list->items[i].message);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

size_t
check_log(const struct config *config)
{
	struct check_list list = {0};
	size_t failed;

	check_run(config, NULL, &list);
	for (size_t i = 0; i < list.count; i++) {
		const struct check_result *r = &list.items[i];

		log_line(r->status == CHECK_FAILED    ? LOG_PRIORITY_ERROR
		         : r->status == CHECK_WARNING ? LOG_PRIORITY_WARNING
		                                      : LOG_PRIORITY_INFO,
		         NULL, "check: %s%s%s ... %s: %s", r->target != NULL ? r->target : "",
		         r->target != NULL ? ": " : "", r->name, check_status_name(r->status),
		         r->message);
	}
	if (list.out_of_memory)
		log_line(LOG_PRIORITY_ERROR, NULL,
		         "check: out of memory; some checks are not shown");
	failed = list.failed;
	check_list_free(&list);
	return failed;
}
