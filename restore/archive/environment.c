/*
 * environment.c - which dump entries restore what every database already has (see
 * environment.h). The rules match entries exactly: a schema public that an old pg_dump wrote
 * with the stock comment is left out; a comment of one's own on it is restored.
 */
#include "environment.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#define STOCK_PUBLIC_COMMENT "COMMENT ON SCHEMA public IS 'standard public schema';"

/* same_statement: is defn the statement want, give or take surrounding white space? */
static bool
same_statement(const char *defn, const char *want)
{
	size_t n = strlen(want), len;

	while (isspace((unsigned char)*defn))
		defn++;
	len = strlen(defn);
	while (len > 0 && isspace((unsigned char)defn[len - 1]))
		len--;
	return len == n && memcmp(defn, want, n) == 0;
}

const char *
environment_reason(const char *desc, const char *tag, const char *defn)
{
	if (strcmp(desc, "SCHEMA") == 0 && strcmp(tag, "public") == 0)
		return "schema public exists in every database; the restore starts from an empty "
		       "one";
	if (strcmp(desc, "COMMENT") == 0 && strcmp(tag, "SCHEMA public") == 0 && defn != NULL &&
	    same_statement(defn, STOCK_PUBLIC_COMMENT))
		return "the stock comment of schema public, which every database has";
	if ((strcmp(desc, "EXTENSION") == 0 || strcmp(desc, "PROCEDURAL LANGUAGE") == 0) &&
	    strcmp(tag, "plpgsql") == 0)
		return "plpgsql is part of every database since PostgreSQL 9.0";
	if (strcmp(desc, "COMMENT") == 0 &&
	    (strcmp(tag, "EXTENSION plpgsql") == 0 || strcmp(tag, "LANGUAGE plpgsql") == 0 ||
	     strcmp(tag, "PROCEDURAL LANGUAGE plpgsql") == 0))
		return "the comment of plpgsql, which every database has with that comment";
	return NULL;
}
