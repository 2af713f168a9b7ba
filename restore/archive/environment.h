/*
 * environment.h - the entries of a dump that restore what every database already has.
 *
 * pg_dump 8.x to 10 wrote the public schema (CREATE SCHEMA public, and its stock comment) and
 * plpgsql (CREATE EXTENSION plpgsql and its comment, or CREATE PROCEDURAL LANGUAGE plpgsql
 * before 9.0) into every dump. Every database since PostgreSQL 9.0 holds both already, owned
 * by the bootstrap superuser, so these entries restore nothing and fail as the database's
 * owner ("schema public already exists", "must be owner of extension plpgsql"). A restore
 * leaves them out on purpose (pg_restore -L) and its report lists each one with the reason.
 * Nothing else is ever left out.
 */
#ifndef ENVIRONMENT_H
#define ENVIRONMENT_H

/*
 * environment_reason: why the TOC entry desc/tag (COMMENT's definition in defn, or NULL when
 * it was not read) is left out of a restore, or NULL when it is restored.
 */
const char *environment_reason(const char *desc, const char *tag, const char *defn);

#endif
