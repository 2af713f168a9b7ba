/*
 * archive_tree.c - the files of a full snapshot (see archive_walk_parts.h): the names allowed
 * under tree/ (tree/xx/yy/<uuid>, as Mendix lays out its blob folder), and each file staged
 * into the blob store's staging folder, or only checked and counted when there is none.
 */
#include "archive_walk_parts.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

bool
archive_tree_name_ok(const char *rel)
{
	uuid_t uu;
	char canonical[37];

	/*
	 * xx/yy/ then a UUID whose first four hex digits are xx and yy. Mendix names files by the
	 * lowercase form; any other spelling would never be found by the application.
	 */
	if (strlen(rel) != 6 + 36 || rel[2] != '/' || rel[5] != '/')
		return false;
	if (uuid_parse(rel + 6, uu) != 0)
		return false;
	uuid_unparse_lower(uu, canonical);
	if (strcmp(canonical, rel + 6) != 0)
		return false;
	return rel[0] == rel[6] && rel[1] == rel[7] && rel[3] == rel[8] && rel[4] == rel[9];
}

/* is_hex_pair: two hex digits. */
static bool
is_hex_pair(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	return s[0] != '\0' && s[1] != '\0' && strchr(hex, s[0]) != NULL &&
	       strchr(hex, s[1]) != NULL;
}

/* archive_tree_folder_ok: "tree", "tree/xx" or "tree/xx/yy". */
bool
archive_tree_folder_ok(const char *p)
{
	if (strcmp(p, "tree") == 0)
		return true;
	if (strncmp(p, "tree/", 5) != 0 || !is_hex_pair(p + 5))
		return false;
	if (p[7] == '\0')
		return true;
	return p[7] == '/' && is_hex_pair(p + 8) && p[10] == '\0';
}

/* walker_read_tree_file: stage (or just check and count) one tree/xx/yy/<uuid> file. */
enum archive_outcome
walker_read_tree_file(struct walker *w, struct archive_entry *e, const char *p)
{
	char why[512];
	const char *rel = p + 5;
	struct archive_walk *walk = w->walk;
	struct store_file *f;
	la_ssize_t n;

	if (!archive_tree_name_ok(rel))
		return walker_refuse(
		    w, WALK_REJECTED,
		    "%s is not named tree/xx/yy/<uuid> with a valid lowercase UUID whose first "
		    "four hex digits are xx and yy",
		    p);
	walk->file_count++;
	if (walk->blob_target == NULL) {
		walk->file_bytes += (uint64_t)archive_entry_size(e);
		return WALK_OK; /* libarchive skips the data at the next header */
	}
	if (store_file_open(walk->staging, rel + 6, &f, why, sizeof(why)) < 0) {
		/* A name seen twice is the archive's fault; anything else is ours. */
		bool twice = strstr(why, "appears twice") != NULL;

		report_part_error(&w->report->files, p, "%s", why);
		return walker_refuse(w, twice ? WALK_REJECTED : WALK_FAILED, "%s", why);
	}
	for (;;) {
		if (walker_cancelled(w)) {
			store_file_abandon(f);
			return walker_refuse(w, WALK_FAILED, "reading was interrupted");
		}
		n = archive_read_data(w->a, w->block, BLOCK_BYTES);
		if (n == 0)
			break;
		if (n < 0) {
			store_file_abandon(f);
			return walker_refuse(w, WALK_REJECTED,
			                     "the archive is truncated or corrupt inside %s (%s)",
			                     p, archive_error_string(w->a));
		}
		if (store_file_write(f, w->block, (size_t)n, why, sizeof(why)) < 0) {
			store_file_abandon(f);
			report_part_error(&w->report->files, p, "%s", why);
			return walker_refuse(w, WALK_FAILED, "%s", why);
		}
		walk->file_bytes += (uint64_t)n;
		if (walk->tick != NULL)
			walk->tick(walk->tick_ctx);
	}
	if (store_file_close(f, why, sizeof(why)) < 0) {
		report_part_error(&w->report->files, p, "%s", why);
		return walker_refuse(w, WALK_FAILED, "%s", why);
	}
	return WALK_OK;
}
