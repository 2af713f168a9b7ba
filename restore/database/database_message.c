/*
 * database_message.c - the database session's messages (see database_parts.h): libpq's and
 * the server's errors as one line a user can read, scrubbed of every piece of a password
 * (conninfo_scrub). database.c, database_commit.c and the executor tell their failures with
 * them.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "conninfo.h"
#include "database_parts.h"

/* database_first_line: a libpq message's first line, without "FATAL:  " and the like. */
void
database_first_line(const char *msg, char *buf, size_t buflen)
{
	static const char *const prefixes[] = {"FATAL:  ", "ERROR:  ", "connection to server "};
	size_t n;

	if (msg == NULL)
		msg = "";
	for (size_t i = 0; i < 2; i++)
		if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
			msg += strlen(prefixes[i]);
	n = strcspn(msg, "\n");
	if (n >= buflen)
		n = buflen - 1;
	memcpy(buf, msg, n);
	buf[n] = '\0';
}

/* database_connection_message: the connection's last error (first line), scrubbed of secrets. */
void
database_connection_message(struct database *db, char *buf, size_t buflen)
{
	database_first_line(PQerrorMessage(db->conn), buf, buflen);
	conninfo_scrub(&db->secrets, buf, buflen);
}

/* database_result_message: "primary message (hint)" of an error result, scrubbed of secrets. */
void
database_result_message(const PGresult *res, struct database *db, char *buf, size_t buflen)
{
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *hint = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	if (primary == NULL) {
		database_connection_message(db, buf, buflen);
		if (buf[0] == '\0')
			snprintf(buf, buflen, "the server connection failed");
		return;
	}
	if (hint != NULL)
		snprintf(buf, buflen, "%s (%s)", primary, hint);
	else
		snprintf(buf, buflen, "%s", primary);
	conninfo_scrub(&db->secrets, buf, buflen);
}
