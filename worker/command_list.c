/*
 * command_list.c - restore-worker list: the backups of every target (or --target's) in
 * <backup_dir>/<target>/ and <spool_dir>/previous/<target>/, newest first, with their time,
 * kind, size and archive version: a table on stdout, or {"backups": [...]} with --json
 * (README: "Command line"). backup_lookup.c says which folders; the engine's backup_list.c
 * reads them. It changes nothing: a folder that does not exist holds no backup.
 *
 * Exit status: 0 listed (also none); 1 a folder cannot be read (the others are listed), or
 * stdout cannot be written; 2 usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup_list.h"
#include "backup_lookup.h"
#include "command.h"
#include "config.h"
#include "json.h"
#include "notify.h"
#include "size.h"

/* print_table: one line a backup, under a heading; or a sentence saying there are none. */
static int
print_table(const struct backup_list *list, const struct backup_folder *folders, size_t n)
{
	int width = (int)strlen("TARGET");
	char size[32], where[1024];

	if (list->n == 0) {
		backup_lookup_where(folders, n, where, sizeof(where));
		if (n == 0)
			printf(
			    "no backups: the configuration has no backup_dir and no spool_dir\n");
		else
			printf("no backups in %s\n", where);
		return fflush(stdout) == EOF ? 1 : 0;
	}
	for (size_t i = 0; i < list->n; i++)
		if ((int)strlen(list->items[i].target) > width)
			width = (int)strlen(list->items[i].target);
	printf("%-16s  %-*s  %-8s  %-4s  %9s  %-7s  %s\n", "TIME (UTC)", width, "TARGET", "SOURCE",
	       "KIND", "SIZE", "VERSION", "NAME");
	for (size_t i = 0; i < list->n; i++) {
		const struct backup_listed *b = &list->items[i];
		const char *s = b->named.stamp;

		size_format(b->bytes, size, sizeof(size));
		printf("%.4s-%.2s-%.2s %.2s:%.2s  %-*s  %-8s  %-4s  %9s  %-7s  %s\n", s, s + 4,
		       s + 6, s + 8, s + 10, width, b->target,
		       strcmp(b->source, "backup_dir") == 0 ? "backup" : b->source,
		       b->named.db_only ? "db" : "full", size,
		       b->archive_version[0] != '\0' ? b->archive_version : "-", b->named.name);
	}
	return fflush(stdout) == EOF ? 1 : 0;
}

/* print_json: {"backups": [...]}, each backup with the fields README lists, on stdout. */
static int
print_json(const struct backup_list *list)
{
	struct json_writer w = {0};
	char when[32], *text;
	int rc;

	json_begin_object(&w);
	json_key(&w, "backups");
	json_begin_array(&w);
	for (size_t i = 0; i < list->n; i++) {
		const struct backup_listed *b = &list->items[i];

		json_begin_object(&w);
		json_key(&w, "name");
		json_string(&w, b->named.name);
		json_key(&w, "path");
		json_string(&w, b->path);
		json_key(&w, "target");
		json_string(&w, b->target);
		json_key(&w, "source");
		json_string(&w, b->source);
		json_key(&w, "kind");
		json_string(&w, b->named.db_only ? "database_only" : "full_snapshot");
		json_key(&w, "time");
		backup_list_time(b, when, sizeof(when));
		json_string(&w, when);
		json_key(&w, "bytes");
		json_uint(&w, b->bytes);
		json_key(&w, "archive_version");
		if (b->archive_version[0] != '\0')
			json_string(&w, b->archive_version);
		else
			json_null(&w);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	text = json_finish(&w);
	rc = command_print_json(text) < 0 ? 1 : 0;
	free(text);
	return rc;
}

/* command_list: restore-worker list [--target NAME] [--json] */
int
command_list(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *path = command_config_path(config_given);
	struct backup_list list = {0};
	struct backup_folder *folders = NULL;
	struct config *config;
	char err[1024];
	size_t n = 0;
	int status = 0;

	(void)cmd;
	config = command_load_config(path);
	if (config == NULL)
		return EXIT_USAGE;
	if (args->target != NULL && config_target_find(config, args->target) == NULL) {
		log_line(LOG_PRIORITY_ERROR, NULL, "%s has no target '%s'", path, args->target);
		config_free(config);
		return EXIT_USAGE;
	}
	if (backup_lookup_folders(config, args->target, &folders, &n) < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL, "out of memory");
		config_free(config);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (backup_list_folder(&list, folders[i].path, folders[i].target, folders[i].source,
		                       true, err, sizeof(err)) < 0) {
			log_line(LOG_PRIORITY_ERROR, NULL, "%s", err);
			status = 1;
		}
	}
	backup_list_sort(&list);
	for (size_t i = 0; i < list.nwarnings; i++)
		log_line(LOG_PRIORITY_WARNING, NULL, "warning: %s", list.warnings[i]);
	if ((args->json ? print_json(&list) : print_table(&list, folders, n)) != 0)
		status = 1;
	backup_list_free(&list);
	free(folders);
	config_free(config);
	return status;
}
