/*
 * test_config_store.c - a target's file store in config_load(): the s3: and azure: mappings
 * and the rules that span a target's keys (worker/config_store.c).
 *
 * Each case writes a config.yaml into a fresh mkdtemp() folder and loads it. Bad configs are a
 * table of scenarios, each with the text its one-line error must contain (file, line, key path)
 * and, where a secret or a value could leak, the text it must not contain; good configs check
 * every field, every default, and the engine's view (config_restore_target).
 *
 * Prints one line per failure and a final "N passed, M failed"; exits 1 if any failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_cases.h"

/* A target's first lines, before its file store: database and plan_quota. */
#define HEAD                                                                                       \
	"work_dir: /var/lib/rw\n"                                                                  \
	"targets:\n"                                                                               \
	"  acceptance:\n"                                                                          \
	"    database: dbname=app\n"                                                               \
	"    plan_quota: 10GB\n"

/* The least an s3: mapping needs (lines 6 to 8). */
#define S3                                                                                         \
	"    s3:\n"                                                                                \
	"      region: eu-west-1\n"                                                                \
	"      bucket: app-files\n"

/* The least an azure: mapping needs (lines 6 to 8). */
#define AZURE                                                                                      \
	"    azure:\n"                                                                             \
	"      account_name: devstoreaccount1\n"                                                   \
	"      container: files\n"

static const struct bad_case bad_cases[] = {
    {"no file store", HEAD,
     "config.yaml:3: targets.acceptance: missing required key 'blob_dir' (or s3 or azure", NULL},
    {"blob_dir and s3", HEAD "    blob_dir: /srv/files\n" S3,
     "config.yaml:7: targets.acceptance: blob_dir and s3 both name a file store (keep one of "
     "blob_dir, s3 and azure)",
     NULL},
    {"s3 and azure", HEAD S3 AZURE,
     "config.yaml:9: targets.acceptance: s3 and azure both name a file store", NULL},
    {"blob_dir and azure", HEAD AZURE "    blob_dir: /srv/files\n",
     "config.yaml:6: targets.acceptance: blob_dir and azure both name a file store", NULL},
    {"s3 as a string", HEAD "    s3: app-files\n",
     "config.yaml:6: targets.acceptance.s3: expected a mapping of settings (endpoint, region, "
     "bucket",
     NULL},
    {"azure as a sequence", HEAD "    azure: [files]\n",
     "config.yaml:6: targets.acceptance.azure: expected a mapping of settings (blob_endpoint",
     NULL},
    {"s3 without region", HEAD "    s3:\n      bucket: app-files\n",
     "config.yaml:7: targets.acceptance.s3: missing required key 'region'", NULL},
    {"s3 without bucket", HEAD "    s3:\n      region: eu-west-1\n",
     "config.yaml:7: targets.acceptance.s3: missing required key 'bucket'", NULL},
    {"s3 empty", HEAD "    s3: {}\n", "targets.acceptance.s3: missing required key 'region'", NULL},
    {"azure without account_name", HEAD "    azure:\n      container: files\n",
     "config.yaml:7: targets.acceptance.azure: missing required key 'account_name'", NULL},
    {"azure without container", HEAD "    azure:\n      account_name: a\n",
     "config.yaml:7: targets.acceptance.azure: missing required key 'container'", NULL},
    {"s3 unknown key", HEAD S3 "      bucket_name: x\n",
     "config.yaml:9: targets.acceptance.s3: unknown key 'bucket_name' (expected endpoint, "
     "region, bucket, prefix, suffix, server_side_encryption, access_key_id, "
     "secret_access_key_file, session_token_file or max_connections)",
     NULL},
    {"azure unknown key", HEAD AZURE "      use_https: true\n",
     "config.yaml:9: targets.acceptance.azure: unknown key 'use_https' (expected blob_endpoint",
     NULL},
    {"s3 duplicate key", HEAD S3 "      region: us-east-1\n",
     "config.yaml:9: targets.acceptance.s3: duplicate key 'region' (first at line 7", NULL},
    {"s3 encryption_keys", HEAD S3 "      encryption_keys: [{key: k1}]\n",
     "config.yaml:9: targets.acceptance.s3.encryption_keys: s3 encryption_keys (Mendix's "
     "client-side encryption) is not supported: its format is not documented",
     NULL},
    {"s3 secret in the file", HEAD S3 "      secret_access_key: wJalrXUtnFEMIK7MDENG\n",
     "config.yaml:9: targets.acceptance.s3.secret_access_key: a secret is not written in the "
     "configuration file",
     "wJalrXUtnFEMIK7MDENG"},
    {"s3 session token in the file", HEAD S3 "      session_token: FwoGZXIvYXdzEXAMPLE\n",
     "use session_token_file or $AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLE"},
    {"azure key in the file", HEAD AZURE "      account_key: Eby8vdM02xNOcqFlqUwJPLlmEtlCDX\n",
     "config.yaml:9: targets.acceptance.azure.account_key: a secret is not written in the "
     "configuration file (it is read by every user who can read the file, and shown in backups "
     "of it); use account_key_file or $AZURE_STORAGE_KEY",
     "Eby8vdM02xNOcqFlqUwJPLlmEtlCDX"},
    {"azure sas in the file", HEAD AZURE "      shared_access_signature: sv=2021&sig=abc\n",
     "use shared_access_signature_file or $AZURE_STORAGE_SAS_TOKEN", "sig=abc"},
    {"azure key file and sas file",
     HEAD AZURE "      account_key_file: key\n      shared_access_signature_file: sas\n",
     "config.yaml:10: targets.acceptance.azure: give account_key_file or "
     "shared_access_signature_file, not both",
     NULL},
    {"s3 max_connections 0", HEAD S3 "      max_connections: 0\n",
     "config.yaml:9: targets.acceptance.s3.max_connections: '0' is not a whole number from 1 to "
     "128",
     NULL},
    {"azure max_connections 129", HEAD AZURE "      max_connections: 129\n",
     "config.yaml:9: targets.acceptance.azure.max_connections: '129' is not a whole number from "
     "1 to 128",
     NULL},
    {"s3 endpoint not a URL", HEAD S3 "      endpoint: minio:9000\n",
     "config.yaml:9: targets.acceptance.s3.endpoint: 'minio:9000' is not an http:// or https:// "
     "URL",
     NULL},
    {"azure endpoint bare scheme", HEAD AZURE "      blob_endpoint: https://\n",
     "config.yaml:9: targets.acceptance.azure.blob_endpoint: 'https://' is not an http:// or "
     "https:// URL",
     NULL},
    {"azure endpoint naming a container",
     HEAD AZURE "      blob_endpoint: https://acct.blob.core.windows.net/files\n",
     "config.yaml:9: targets.acceptance.azure.blob_endpoint: "
     "'https://acct.blob.core.windows.net/files' names a container",
     NULL},
    {"s3 bucket with a slash", HEAD "    s3:\n      region: r\n      bucket: files/acceptance\n",
     "config.yaml:8: targets.acceptance.s3.bucket: 'files/acceptance' holds a '/'", NULL},
    {"s3 empty region", HEAD "    s3:\n      region: ''\n      bucket: b\n",
     "config.yaml:7: targets.acceptance.s3.region: must not be empty", NULL},
    {"s3 empty access_key_id", HEAD S3 "      access_key_id: ''\n",
     "config.yaml:9: targets.acceptance.s3.access_key_id: must not be empty", NULL},
    {"s3 prefix as a mapping", HEAD S3 "      prefix: {a: b}\n",
     "config.yaml:9: targets.acceptance.s3.prefix: expected a string, found a mapping", NULL},
    {"s3 sse not a bool", HEAD S3 "      server_side_encryption: AES256\n",
     "config.yaml:9: targets.acceptance.s3.server_side_encryption: 'AES256' is not true or "
     "false",
     NULL},
    {"s3 empty secret file", HEAD S3 "      secret_access_key_file: ''\n",
     "config.yaml:9: targets.acceptance.s3.secret_access_key_file: must not be empty", NULL},
    {"blob_owner with s3", HEAD S3 "    blob_owner: root\n",
     "config.yaml:9: targets.acceptance.blob_owner: only for blob_dir", NULL},
    {"blob_group with azure", HEAD "    blob_group: root\n" AZURE,
     "config.yaml:6: targets.acceptance.blob_group: only for blob_dir", NULL},
    {"blob_dir_mode with s3", HEAD S3 "    blob_dir_mode: \"2770\"\n",
     "config.yaml:9: targets.acceptance.blob_dir_mode: only for blob_dir", NULL},
    {"blob_file_mode with azure", HEAD AZURE "    blob_file_mode: \"0660\"\n",
     "config.yaml:9: targets.acceptance.blob_file_mode: only for blob_dir", NULL},
    {"missing plan_quota with s3",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n" S3,
     "config.yaml:3: targets.acceptance: missing required key 'plan_quota'", NULL},
    {"missing database before the store", "work_dir: /w\ntargets:\n  acceptance:\n    s3: {}\n",
     "config.yaml:4: targets.acceptance.s3: missing required key 'region'", NULL},
    {"unknown target key names s3 and azure", HEAD S3 "    s4: {}\n",
     "config.yaml:9: targets.acceptance: unknown key 's4' (expected database, blob_dir, "
     "plan_quota, ",
     NULL},
    {"unknown target key lists s3 and azure", HEAD S3 "    gcs: {}\n",
     "hook_timeout_seconds, allow_restore, s3 or azure)", NULL},
};

/* load_one: load_good, of a config that must have one target. */
static struct config *
load_one(const char *path, const char *name, const char *yaml)
{
	struct config *config = load_good(path, name, yaml);

	CHECK(config == NULL || config->ntargets == 1, "%s: not one target", name);
	return config;
}

/* same: whether got (NULL allowed) is want (NULL allowed). */
static int
same(const char *got, const char *want)
{
	return got == want || (got != NULL && want != NULL && strcmp(got, want) == 0);
}

#define EXPECT_STR(what, got, want)                                                                \
	CHECK(same(got, want), "%s: \"%s\", expected \"%s\"", what, (got) ? (got) : "(null)",      \
	      (want) ? (want) : "(null)")

/* test_s3_full: every s3 key given: every field as written, and the engine sees them. */
static void
test_s3_full(const char *path)
{
	static const char yaml[] =
	    HEAD "    s3:\n"
	         "      endpoint: http://127.0.0.1:9000\n"
	         "      region: eu-west-1\n"
	         "      bucket: app-files\n"
	         "      prefix: \"acceptance/\"\n"
	         "      suffix: .bin\n"
	         "      server_side_encryption: true\n"
	         "      access_key_id: AKIAEXAMPLE\n"
	         "      secret_access_key_file: /etc/restore-worker/acceptance.s3-secret\n"
	         "      session_token_file: acceptance.s3-token\n"
	         "      max_connections: 128\n"
	         "    keep_previous: false\n";
	struct config *config = load_one(path, "s3 full", yaml);
	const struct store_s3 *s3;
	struct restore_target t;

	if (config == NULL)
		return;
	s3 = config->targets[0].s3;
	CHECK(s3 != NULL && config->targets[0].azure == NULL && config->targets[0].blob_dir == NULL,
	      "s3 full: not an s3 store alone");
	if (s3 != NULL) {
		EXPECT_STR("endpoint", s3->endpoint, "http://127.0.0.1:9000");
		EXPECT_STR("region", s3->region, "eu-west-1");
		EXPECT_STR("bucket", s3->bucket, "app-files");
		EXPECT_STR("prefix", s3->prefix, "acceptance/");
		EXPECT_STR("suffix", s3->suffix, ".bin");
		CHECK(s3->server_side_encryption, "server_side_encryption: false");
		EXPECT_STR("access_key_id", s3->access_key_id, "AKIAEXAMPLE");
		EXPECT_STR("secret_access_key_file", s3->secret_access_key_file,
		           "/etc/restore-worker/acceptance.s3-secret");
		EXPECT_STR("session_token_file", s3->session_token_file, "acceptance.s3-token");
		CHECK(s3->max_connections == 128, "max_connections: %d", s3->max_connections);
	}
	config_restore_target(&config->targets[0], &t);
	CHECK(t.s3 == s3 && t.azure == NULL && t.blob_dir == NULL,
	      "config_restore_target: not the s3 store");
	EXPECT_STR("state_dir", t.state_dir, "/var/lib/rw");
	config_free(config);
}

/* test_s3_defaults: only region and bucket: every other key's default. */
static void
test_s3_defaults(const char *path)
{
	struct config *config = load_one(path, "s3 minimal", HEAD S3);
	const struct store_s3 *s3;

	if (config == NULL)
		return;
	s3 = config->targets[0].s3;
	CHECK(s3 != NULL, "s3 minimal: no s3 store");
	if (s3 != NULL) {
		EXPECT_STR("endpoint", s3->endpoint, NULL);
		EXPECT_STR("prefix", s3->prefix, "");
		EXPECT_STR("suffix", s3->suffix, "");
		CHECK(!s3->server_side_encryption, "server_side_encryption: true by default");
		EXPECT_STR("access_key_id", s3->access_key_id, NULL);
		EXPECT_STR("secret_access_key_file", s3->secret_access_key_file, NULL);
		EXPECT_STR("session_token_file", s3->session_token_file, NULL);
		CHECK(s3->max_connections == CONFIG_STORE_DEFAULT_CONNECTIONS &&
		          CONFIG_STORE_DEFAULT_CONNECTIONS == 16,
		      "max_connections: %d, expected 16", s3->max_connections);
	}
	config_free(config);
}

/* test_azure: every azure key given, then the defaults; the engine sees them. */
static void
test_azure(const char *path)
{
	static const char yaml[] =
	    HEAD "    azure:\n"
	         "      blob_endpoint: http://127.0.0.1:10000/devstoreaccount1\n"
	         "      account_name: devstoreaccount1\n"
	         "      account_key_file: test.azure-key\n"
	         "      container: files\n"
	         "      max_connections: 1\n";
	struct config *config = load_one(path, "azure full", yaml);
	const struct store_azure *az;
	struct restore_target t;

	if (config != NULL) {
		az = config->targets[0].azure;
		CHECK(az != NULL && config->targets[0].s3 == NULL,
		      "azure full: not an azure store");
		if (az != NULL) {
			EXPECT_STR("blob_endpoint", az->blob_endpoint,
			           "http://127.0.0.1:10000/devstoreaccount1");
			EXPECT_STR("account_name", az->account_name, "devstoreaccount1");
			EXPECT_STR("account_key_file", az->account_key_file, "test.azure-key");
			EXPECT_STR("shared_access_signature_file", az->shared_access_signature_file,
			           NULL);
			EXPECT_STR("container", az->container, "files");
			CHECK(az->max_connections == 1, "max_connections: %d", az->max_connections);
		}
		config_restore_target(&config->targets[0], &t);
		CHECK(t.azure == az && t.s3 == NULL && t.blob_dir == NULL,
		      "config_restore_target: not the azure store");
		config_free(config);
	}
	config = load_one(path, "azure sas",
	                  HEAD AZURE "      shared_access_signature_file: /run/cred/sas\n"
	                             "      blob_endpoint: https://acct.blob.core.windows.net/\n");
	if (config != NULL) {
		az = config->targets[0].azure;
		CHECK(az != NULL &&
		          same(az->blob_endpoint, "https://acct.blob.core.windows.net/") &&
		          az->account_key_file == NULL &&
		          same(az->shared_access_signature_file, "/run/cred/sas") &&
		          az->max_connections == 16,
		      "azure sas: not the SAS file, the endpoint and the defaults");
		config_free(config);
	}
}

/* test_blob_dir: a folder target keeps working and has no object store; state_dir is set. */
static void
test_blob_dir(const char *path)
{
	struct config *config =
	    load_one(path, "blob_dir", HEAD "    blob_dir: /srv/files\n    blob_owner: root\n");
	struct restore_target t;

	if (config == NULL)
		return;
	config_restore_target(&config->targets[0], &t);
	CHECK(same(t.blob_dir, "/srv/files") && t.s3 == NULL && t.azure == NULL &&
	          same(t.state_dir, "/var/lib/rw"),
	      "blob_dir: the engine's view is not the folder alone");
	config_free(config);
}

/* main: run every case in a fresh temporary folder; exit 0 only if all passed. */
int
main(void)
{
	char dir[2048], path[4096];

	if (config_case_dir("test_config_store", dir, sizeof(dir), path, sizeof(path)) < 0)
		return 1;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_bad(path, &bad_cases[i]);
	test_s3_full(path);
	test_s3_defaults(path);
	test_azure(path);
	test_blob_dir(path);
	CHECK(unlink(path) == 0 && rmdir(dir) == 0, "cannot remove %s: %s", dir, strerror(errno));
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
