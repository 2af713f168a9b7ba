/*
 * objtool - drives the object client (restore/objclient/objclient.h) from the command line, for the
 * integration tests: a bucket or container named on the command line, a command.
 *
 *   objtool [OPTIONS] s3 ENDPOINT REGION BUCKET COMMAND [ARG...]
 *   objtool [OPTIONS] azure ENDPOINT ACCOUNT CONTAINER COMMAND [ARG...]
 *
 * ENDPOINT "-": AWS's, or Azure's. Commands:
 *   ls [PREFIX]       one line per object: name<TAB>size<TAB>md5 in hex (- when unknown), in order
 *   get KEY [ETAG]    the object's bytes on stdout (streamed); exit status 3 when there is no
 *                     such object (of that ETag)
 *   head KEY          name<TAB>size<TAB>md5<TAB>etag; exit status 3 when there is no such object
 *   put KEY FILE      writes FILE (multipart, parts of --part-size, when it is larger than that)
 *   putdir PREFIX DIR writes each file of DIR as PREFIX<name>, many at once
 *   cp FROM TO        server-side copy
 *   rm KEY...         deletes (one missing is no error)
 *   mkbucket          creates the bucket or container
 *   probe             objclient_probe: list, write and delete under the prefix
 * Options: --prefix P (s3 prefix, for probe), --secret-file F (s3), --key-file F and --sas-file F
 * (azure), --max-connections N, --part-size BYTES (default 8 MiB), --page-size N (ls: objects per
 * listing page, default 1000), --sse, --stats (after the command's output, on stdout: requests,
 * connections and most_at_once, each on a line with its count). Credentials not given as
 * files come from the environment, as for a target. Exit status: 0 ok, 1 failed (one line on
 * stderr), 2 usage, 3 get, head: not found.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "objclient.h"

/* The outcome of the asynchronous requests objtool waits for. */
struct waiting {
	int failed;
	char err[1024];
};

/* Every request's done: keeps the first failure. */
static void
on_done(void *ctx, const struct obj_result *r)
{
	struct waiting *w = ctx;
	if (!r->ok && w->failed++ == 0)
		snprintf(w->err, sizeof(w->err), "%s", r->err);
}

/* The MD5 of len bytes at p. */
static void
md5_of(const void *p, size_t len, unsigned char out[16])
{
	unsigned int n = 0;
	EVP_Digest(p, len, out, &n, EVP_md5(), NULL);
}

/* Reads file path whole into *buf; -1 with a message on stderr. */
static int
read_file(const char *path, unsigned char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "objtool: cannot open %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len + 1);
	size_t done = 0;
	while (*buf != NULL && done < *len) {
		ssize_t n = read(fd, *buf + done, *len - done);
		if (n <= 0) {
			fprintf(stderr, "objtool: cannot read %s: %s\n", path,
			        n < 0 ? strerror(errno) : "it shrank");
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	close(fd);
	if (*buf == NULL) {
		fprintf(stderr, "objtool: %s: out of memory\n", path);
		return -1;
	}
	return 0;
}

/* Prints md5 in hex, or "-". */
static void
print_md5(const struct obj_entry *e)
{
	if (!e->have_md5) {
		fputs("-", stdout);
		return;
	}
	for (int i = 0; i < 16; i++)
		printf("%02x", e->md5[i]);
}

/* ls [PREFIX]. */
static int
cmd_ls(struct objclient *c, const char *prefix, size_t page_size, char *err, size_t errlen)
{
	static struct obj_entry entries[1000];
	char token[2048] = "";
	if (page_size == 0 || page_size > 1000)
		page_size = 1000;
	do {
		size_t n;
		if (obj_list_page(c, prefix, token, sizeof(token), entries, page_size, &n, err,
		                  errlen) != 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			printf("%s\t%llu\t", entries[i].name, (unsigned long long)entries[i].size);
			print_md5(&entries[i]);
			putchar('\n');
		}
	} while (token[0] != '\0');
	return 0;
}

/* get KEY [ETAG]: 0 read, -1 failed, 3 no such object (or not of that ETag). */
static int
cmd_get(struct objclient *c, const char *key, const char *etag, char *err, size_t errlen)
{
	struct obj_get *g;
	char buf[65536];
	int rc = obj_get_open(c, key, etag, &g, err, errlen);
	if (rc == 0) {
		snprintf(err, errlen, "%s: %s: no such object%s", objclient_where(c), key,
		         etag != NULL ? " of that ETag" : "");
		return 3;
	}
	if (rc != 1)
		return -1;
	ssize_t n;
	while ((n = obj_get_read(g, buf, sizeof(buf), err, errlen)) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			snprintf(err, errlen, "cannot write to stdout");
			n = -1;
			break;
		}
	obj_get_close(g);
	return n < 0 ? -1 : 0;
}

/* put KEY FILE, in parts of part_size when it is larger. */
static int
cmd_put(struct objclient *c, const char *key, const char *path, size_t part_size, char *err,
        size_t errlen)
{
	unsigned char *buf, md5[16];
	size_t len;
	struct waiting w = {0};
	int rc = -1;
	if (read_file(path, &buf, &len) != 0) {
		snprintf(err, errlen, "%s is not readable", path);
		return -1;
	}
	md5_of(buf, len, md5);
	if (len <= part_size) {
		if (obj_put(c, key, buf, len, md5, on_done, &w, err, errlen) != 0 ||
		    objclient_run(c, 0, err, errlen) != 0)
			goto out;
	} else {
		struct obj_upload *u;
		if (obj_upload_begin(c, key, &u, err, errlen) != 0)
			goto out;
		for (size_t off = 0, part = 1; off < len; off += part_size, part++) {
			size_t n = len - off < part_size ? len - off : part_size;
			unsigned char part_md5[16];
			md5_of(buf + off, n, part_md5);
			if (obj_upload_part(u, (int)part, buf + off, n, part_md5, on_done, &w, err,
			                    errlen) != 0) {
				objclient_run(c, 0, err, errlen);
				obj_upload_abort(u);
				goto out;
			}
		}
		if (objclient_run(c, 0, err, errlen) != 0) {
			obj_upload_abort(u);
			goto out;
		}
		if (w.failed) {
			obj_upload_abort(u);
		} else if (obj_upload_end(u, md5, err, errlen) != 0) {
			goto out;
		}
	}
	if (w.failed) {
		snprintf(err, errlen, "%s", w.err);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* putdir PREFIX DIR: writes every file of DIR as PREFIX<its name>, many at once (at most 64
 * queued beyond those in flight). */
static int
cmd_putdir(struct objclient *c, const char *prefix, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct waiting w = {0};
	unsigned char **bufs = NULL;
	size_t nbufs = 0;
	int rc = -1;
	if (d == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096], key[2048];
		unsigned char *buf, md5[16], **grown;
		size_t len;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(key, sizeof(key), "%s%s", prefix, de->d_name);
		if ((grown = realloc(bufs, (nbufs + 1) * sizeof(*bufs))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		bufs = grown;
		if (read_file(path, &buf, &len) != 0) {
			snprintf(err, errlen, "%.1000s is not readable", path);
			goto out;
		}
		bufs[nbufs++] = buf;
		md5_of(buf, len, md5);
		if (obj_put(c, key, buf, len, md5, on_done, &w, err, errlen) != 0 ||
		    objclient_run(c, 64, err, errlen) != 0)
			goto out;
	}
	if (objclient_run(c, 0, err, errlen) != 0)
		goto out;
	if (w.failed) {
		snprintf(err, errlen, "%s", w.err);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		objclient_run(c, 0, err + strlen(err),
		              0); /* the buffers live until their requests end */
	closedir(d);
	for (size_t i = 0; i < nbufs; i++)
		free(bufs[i]);
	free(bufs);
	return rc;
}

/* Queues one request by its function (cp: from, to; rm: key) and waits for it. */
static int
wait_all(struct objclient *c, struct waiting *w, char *err, size_t errlen)
{
	if (objclient_run(c, 0, err, errlen) != 0)
		return -1;
	if (w->failed) {
		snprintf(err, errlen, "%s", w->err);
		return -1;
	}
	return 0;
}

/* Prints the usage and returns 2. */
static int
usage(void)
{
	fprintf(
	    stderr,
	    "usage: objtool [--prefix P] [--secret-file F] [--key-file F] [--sas-file F]\n"
	    "         [--max-connections N] [--part-size BYTES] [--page-size N] [--sse] [--stats]\n"
	    "         s3 ENDPOINT REGION BUCKET | azure ENDPOINT ACCOUNT CONTAINER\n"
	    "         ls [PREFIX] | get KEY [ETAG] | head KEY | put KEY FILE | putdir PREFIX DIR\n"
	    "         | cp FROM TO | rm KEY... | mkbucket | probe\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct store_s3 s3 = {.prefix = "", .suffix = ""};
	struct store_azure azure = {0};
	struct restore_target t = {.name = "objtool"};
	size_t part_size = 8u << 20, page_size = 1000;
	int max_connections = 16, i = 1;
	bool stats = false;
	char err[2048] = "";
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(opt, "--sse") == 0) {
			s3.server_side_encryption = true;
			continue;
		}
		if (strcmp(opt, "--stats") == 0) {
			stats = true;
			continue;
		}
		if (val == NULL)
			return usage();
		i++;
		if (strcmp(opt, "--prefix") == 0)
			s3.prefix = val;
		else if (strcmp(opt, "--secret-file") == 0)
			s3.secret_access_key_file = val;
		else if (strcmp(opt, "--key-file") == 0)
			azure.account_key_file = val;
		else if (strcmp(opt, "--sas-file") == 0)
			azure.shared_access_signature_file = val;
		else if (strcmp(opt, "--max-connections") == 0)
			max_connections = atoi(val);
		else if (strcmp(opt, "--page-size") == 0)
			page_size = strtoull(val, NULL, 10);
		else if (strcmp(opt, "--part-size") == 0)
			part_size = strtoull(val, NULL, 10);
		else
			return usage();
	}
	if (argc - i < 5 || part_size == 0)
		return usage();
	const char *kind = argv[i], *endpoint = strcmp(argv[i + 1], "-") == 0 ? NULL : argv[i + 1];
	if (strcmp(kind, "s3") == 0) {
		s3.endpoint = endpoint;
		s3.region = argv[i + 2];
		s3.bucket = argv[i + 3];
		s3.max_connections = max_connections;
		t.s3 = &s3;
	} else if (strcmp(kind, "azure") == 0) {
		azure.blob_endpoint = endpoint;
		azure.account_name = argv[i + 2];
		azure.container = argv[i + 3];
		azure.max_connections = max_connections;
		t.azure = &azure;
	} else {
		return usage();
	}
	const char *cmd = argv[i + 4];
	char **args = argv + i + 5;
	int nargs = argc - i - 5, rc = -1;
	struct objclient *c;
	struct waiting w = {0};
	if (objclient_open(&t, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "objtool: %s\n", err);
		return 1;
	}
	if (strcmp(cmd, "ls") == 0 && nargs <= 1) {
		rc = cmd_ls(c, nargs == 1 ? args[0] : "", page_size, err, sizeof(err));
	} else if (strcmp(cmd, "get") == 0 && (nargs == 1 || nargs == 2)) {
		rc = cmd_get(c, args[0], nargs == 2 ? args[1] : NULL, err, sizeof(err));
	} else if (strcmp(cmd, "head") == 0 && nargs == 1) {
		struct obj_entry e;
		rc = obj_head(c, args[0], &e, err, sizeof(err));
		if (rc == 1) {
			printf("%s\t%llu\t", e.name, (unsigned long long)e.size);
			print_md5(&e);
			printf("\t%s\n", e.etag);
			rc = 0;
		} else if (rc == 0) {
			objclient_close(c);
			return 3;
		}
	} else if (strcmp(cmd, "put") == 0 && nargs == 2) {
		rc = cmd_put(c, args[0], args[1], part_size, err, sizeof(err));
	} else if (strcmp(cmd, "cp") == 0 && nargs == 2) {
		rc = obj_copy(c, args[0], args[1], on_done, &w, err, sizeof(err));
		if (rc == 0)
			rc = wait_all(c, &w, err, sizeof(err));
	} else if (strcmp(cmd, "rm") == 0 && nargs >= 1) {
		rc = 0;
		for (int k = 0; k < nargs && rc == 0; k++)
			rc = obj_delete(c, args[k], on_done, &w, err, sizeof(err));
		if (rc == 0)
			rc = wait_all(c, &w, err, sizeof(err));
	} else if (strcmp(cmd, "putdir") == 0 && nargs == 2) {
		rc = cmd_putdir(c, args[0], args[1], err, sizeof(err));
	} else if (strcmp(cmd, "mkbucket") == 0 && nargs == 0) {
		rc = objclient_create_bucket(c, err, sizeof(err));
	} else if (strcmp(cmd, "probe") == 0 && nargs == 0) {
		rc = objclient_probe(c, err, sizeof(err));
	} else {
		objclient_close(c);
		return usage();
	}
	if (stats) {
		struct obj_stats st;
		objclient_stats(c, &st);
		printf("requests\t%llu\nconnections\t%llu\nmost_at_once\t%d\n",
		       (unsigned long long)st.requests, (unsigned long long)st.connections,
		       st.most_at_once);
	}
	objclient_close(c);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "objtool: cannot write to stdout: %s\n", strerror(errno));
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "objtool: %s\n", err);
		return rc == 3 ? 3 : 1;
	}
	return 0;
}
