/*
 * toc_list.c - write a pg_restore TOC list that leaves entries out (see toc_list.h).
 *
 * The list streams from `pg_restore -l` to the file a line at a time: a dump with thousands
 * of entries costs no more memory than one.
 */
#include "toc_list.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "spawn.h"

/* left_out: is the entry this list line describes one of skip? */
static bool
left_out(const char *line, const int64_t *skip, size_t nskip)
{
	char *end;
	long long id;

	if (line[0] < '0' || line[0] > '9')
		return false; /* a comment or a blank line */
	id = strtoll(line, &end, 10);
	if (*end != ';')
		return false;
	for (size_t i = 0; i < nskip; i++)
		if (skip[i] == id)
			return true;
	return false;
}

int
toc_list_write(const char *pg_restore, const char *dump_path, const char *list_path,
               const int64_t *skip, size_t nskip, char *err, size_t errlen)
{
	char *argv[] = {(char *)pg_restore, "--list", (char *)dump_path, NULL};
	struct spawn sp;
	FILE *in = NULL, *out = NULL;
	char *line = NULL;
	size_t cap = 0;
	int fd, status, rc = -1;

	fd = open(list_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_error(err, errlen, "cannot create %s: %s", list_path, strerror(errno));
	out = fdopen(fd, "w");
	if (out == NULL) {
		(void)close(fd);
		return io_error(err, errlen, "cannot write %s: %s", list_path, strerror(errno));
	}
	if (spawn_start(argv, &sp, err, errlen) < 0) {
		(void)fclose(out);
		return -1;
	}
	/* Its list is all that is needed; an error shows in its exit status. */
	(void)close(sp.err_fd);
	sp.err_fd = -1;
	in = fdopen(sp.out_fd, "r");
	if (in == NULL) {
		io_error(err, errlen, "cannot read what %s lists: %s", pg_restore, strerror(errno));
		goto done;
	}
	sp.out_fd = -1;
	while (getline(&line, &cap, in) >= 0) {
		if (fprintf(out, "%s%s", left_out(line, skip, nskip) ? ";" : "", line) < 0) {
			io_error(err, errlen, "cannot write %s: %s", list_path, strerror(errno));
			goto done;
		}
	}
	if (fflush(out) != 0 || ferror(out)) {
		io_error(err, errlen, "cannot write %s: %s", list_path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (in != NULL)
		(void)fclose(in);
	status = spawn_finish(&sp);
	if (rc == 0 && (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
		rc = io_error(err, errlen, "%s --list %s failed (status %d)", pg_restore, dump_path,
		              status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (fclose(out) != 0 && rc == 0)
		rc = io_error(err, errlen, "cannot write %s: %s", list_path, strerror(errno));
	free(line);
	return rc;
}
