/*
 * config_store.c - a target's file store in the configuration file: the s3: and azure:
 * mappings (README: "Files in object storage"), and the rules that span a target's keys: it
 * names exactly one of blob_dir, s3 and azure, and the blob_dir-only keys (blob_owner,
 * blob_group, blob_dir_mode, blob_file_mode) only with blob_dir. config.c calls these for
 * every target.
 *
 * The keys follow the Mendix runtime's settings (com.mendix.storage.s3.* and
 * com.mendix.storage.azure.*), so that an operator copies them across. Secrets are never
 * written here: the config names the files that hold them (a relative name is looked up in
 * $CREDENTIALS_DIRECTORY when the object client loads it) or leaves them to the environment,
 * and it never reads them. A key that would hold a secret itself (secret_access_key,
 * account_key, ...) is refused with the key to use instead, and Mendix's EncryptionKeys
 * (client-side encryption, whose format is not documented) with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "config_read.h"

#define CONFIG_STORE_KEYPATH_MAX     200 /* "targets.NAME.azure.shared_access_signature_file" */
#define CONFIG_STORE_MAX_CONNECTIONS 128

#define CONFIG_S3_KEYS                                                                             \
	"endpoint, region, bucket, prefix, suffix, server_side_encryption, access_key_id, "        \
	"secret_access_key_file, session_token_file or max_connections"
#define CONFIG_AZURE_KEYS                                                                          \
	"blob_endpoint, account_name, account_key_file, shared_access_signature_file, container "  \
	"or max_connections"

#define CONFIG_SECRET_REFUSED                                                                      \
	"a secret is not written in the configuration file (it is read by every user who can "     \
	"read the file, and shown in backups of it); use "

/* A key of the Mendix runtime's that is refused, and why (the key or variable to use instead). */
struct config_refused_key {
	const char *key;
	const char *why;
};

static const struct config_refused_key config_s3_refused[] = {
    {"secret_access_key", CONFIG_SECRET_REFUSED "secret_access_key_file or $AWS_SECRET_ACCESS_KEY"},
    {"session_token", CONFIG_SECRET_REFUSED "session_token_file or $AWS_SESSION_TOKEN"},
    {"encryption_keys", "s3 encryption_keys (Mendix's client-side encryption) is not "
                        "supported: its format is not documented"},
    {NULL, NULL},
};

static const struct config_refused_key config_azure_refused[] = {
    {"account_key", CONFIG_SECRET_REFUSED "account_key_file or $AZURE_STORAGE_KEY"},
    {"shared_access_signature",
     CONFIG_SECRET_REFUSED "shared_access_signature_file or $AZURE_STORAGE_SAS_TOKEN"},
    {NULL, NULL},
};

/* config_refused: when key is one of refused, refuse it saying why: -1; else 0. */
static int
config_refused(struct config_reader *reader, const char *keypath, const yaml_node_t *key,
               const struct config_refused_key *refused)
{
	for (; refused->key != NULL; refused++)
		if (config_scalar_is(key, refused->key)) {
			config_error(reader, key, "%s: %s", keypath, refused->why);
			return -1;
		}
	return 0;
}

/* config_read_url: an http:// or https:// URL at keypath into *out. */
static int
config_read_url(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                char **out)
{
	char shown[CONFIG_SHOWN_MAX + 4];

	if (config_read_string(reader, keypath, value, CONFIG_NONEMPTY, out) != 0)
		return -1;
	if ((strncmp(*out, "http://", 7) == 0 && (*out)[7] != '\0') ||
	    (strncmp(*out, "https://", 8) == 0 && (*out)[8] != '\0'))
		return 0;
	config_error(reader, value,
	             "%s: '%s' is not an http:// or https:// URL (e.g. https://minio.example:9000)",
	             keypath, config_shown(value, shown, sizeof(shown)));
	return -1;
}

/*
 * config_azure_endpoint_names_container: whether url is Azure's own blob endpoint with a path
 * (https://<account>.blob.core.windows.net/<container>): Mendix then takes Container as a
 * folder in that container, a layout the store does not know.
 */
static bool
config_azure_endpoint_names_container(const char *url)
{
	static const char azure_host[] = ".blob.core.windows.net";
	const char *host = strstr(url, "://") + 3, *path = strchr(host, '/');
	size_t hostlen = path != NULL ? (size_t)(path - host) : strlen(host);

	return path != NULL && path[1] != '\0' && hostlen > sizeof(azure_host) - 1 &&
	       strncmp(host + hostlen - (sizeof(azure_host) - 1), azure_host,
	               sizeof(azure_host) - 1) == 0;
}

/* config_read_name: a bucket, container or account name at keypath: not empty, no '/'. */
static int
config_read_name(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                 char **out)
{
	char shown[CONFIG_SHOWN_MAX + 4];

	if (config_read_string(reader, keypath, value, CONFIG_NONEMPTY, out) != 0)
		return -1;
	if (strchr(*out, '/') == NULL)
		return 0;
	config_error(reader, value,
	             "%s: '%s' holds a '/' (give the name alone; a path within it goes into "
	             "prefix)",
	             keypath, config_shown(value, shown, sizeof(shown)));
	return -1;
}

/* config_store_mapping: check that value is a mapping of plain, distinct keys. */
static int
config_store_mapping(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                     const char *keys)
{
	char prefix[CONFIG_STORE_KEYPATH_MAX + 4];

	if (value->type != YAML_MAPPING_NODE) {
		config_error(reader, value, "%s: expected a mapping of settings (%s), found %s",
		             keypath, keys, config_kind(value));
		return -1;
	}
	snprintf(prefix, sizeof(prefix), "%s: ", keypath);
	return config_check_keys(reader, prefix, value);
}

/* config_store_missing: refuse a store mapping without its required key: -1. */
static int
config_store_missing(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                     const char *key, const char *what)
{
	config_error(reader, value, "%s: missing required key '%s' (%s)", keypath, key, what);
	return -1;
}

/* config_read_s3: fill *out from the s3: mapping at keypath (targets.NAME.s3). */
int
config_read_s3(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
               struct store_s3 **out)
{
	char sub[CONFIG_STORE_KEYPATH_MAX], shown[CONFIG_SHOWN_MAX + 4];
	const yaml_node_pair_t *pair;
	const yaml_node_t *key, *v;
	struct store_s3 *s3;
	char **field;
	int rc;

	if (config_store_mapping(reader, keypath, value, CONFIG_S3_KEYS) != 0)
		return -1;
	if ((*out = s3 = calloc(1, sizeof(*s3))) == NULL) {
		config_error(reader, value, "%s: out of memory", keypath);
		return -1;
	}
	s3->max_connections = CONFIG_STORE_DEFAULT_CONNECTIONS;
	for (pair = value->data.mapping.pairs.start; pair < value->data.mapping.pairs.top; pair++) {
		key = config_node(reader, pair->key);
		v = config_node(reader, pair->value);
		snprintf(sub, sizeof(sub), "%s.%s", keypath, (const char *)key->data.scalar.value);
		field = NULL;
		if (config_scalar_is(key, "endpoint")) {
			rc = config_read_url(reader, sub, v, (char **)&s3->endpoint);
		} else if (config_scalar_is(key, "region")) {
			rc = config_read_name(reader, sub, v, (char **)&s3->region);
		} else if (config_scalar_is(key, "bucket")) {
			rc = config_read_name(reader, sub, v, (char **)&s3->bucket);
		} else if (config_scalar_is(key, "prefix")) {
			field = (char **)&s3->prefix;
		} else if (config_scalar_is(key, "suffix")) {
			field = (char **)&s3->suffix;
		} else if (config_scalar_is(key, "server_side_encryption")) {
			rc = config_read_bool(reader, sub, v, &s3->server_side_encryption);
		} else if (config_scalar_is(key, "access_key_id")) {
			rc = config_read_string(reader, sub, v, CONFIG_NONEMPTY,
			                        (char **)&s3->access_key_id);
		} else if (config_scalar_is(key, "secret_access_key_file")) {
			rc = config_read_string(reader, sub, v, CONFIG_NONEMPTY,
			                        (char **)&s3->secret_access_key_file);
		} else if (config_scalar_is(key, "session_token_file")) {
			rc = config_read_string(reader, sub, v, CONFIG_NONEMPTY,
			                        (char **)&s3->session_token_file);
		} else if (config_scalar_is(key, "max_connections")) {
			rc = config_read_count(reader, sub, v, 1, CONFIG_STORE_MAX_CONNECTIONS,
			                       &s3->max_connections);
		} else if (config_refused(reader, sub, key, config_s3_refused) != 0) {
			rc = -1;
		} else {
			config_error(reader, key, "%s: unknown key '%s' (expected %s)", keypath,
			             config_shown(key, shown, sizeof(shown)), CONFIG_S3_KEYS);
			rc = -1;
		}
		if (field != NULL)
			rc = config_read_string(reader, sub, v, 0, field);
		if (rc != 0)
			return -1;
	}
	if (s3->region == NULL)
		return config_store_missing(reader, keypath, value, "region",
		                            "the bucket's region, e.g. eu-west-1");
	if (s3->bucket == NULL)
		return config_store_missing(reader, keypath, value, "bucket", "the bucket's name");
	if ((s3->prefix == NULL && (s3->prefix = strdup("")) == NULL) ||
	    (s3->suffix == NULL && (s3->suffix = strdup("")) == NULL)) {
		config_error(reader, value, "%s: out of memory", keypath);
		return -1;
	}
	return 0;
}

/* config_read_azure: fill *out from the azure: mapping at keypath (targets.NAME.azure). */
int
config_read_azure(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                  struct store_azure **out)
{
	char sub[CONFIG_STORE_KEYPATH_MAX], shown[CONFIG_SHOWN_MAX + 4];
	const yaml_node_pair_t *pair;
	const yaml_node_t *key, *v, *key_file = NULL, *sas_file = NULL;
	struct store_azure *az;
	int rc;

	if (config_store_mapping(reader, keypath, value, CONFIG_AZURE_KEYS) != 0)
		return -1;
	if ((*out = az = calloc(1, sizeof(*az))) == NULL) {
		config_error(reader, value, "%s: out of memory", keypath);
		return -1;
	}
	az->max_connections = CONFIG_STORE_DEFAULT_CONNECTIONS;
	for (pair = value->data.mapping.pairs.start; pair < value->data.mapping.pairs.top; pair++) {
		key = config_node(reader, pair->key);
		v = config_node(reader, pair->value);
		snprintf(sub, sizeof(sub), "%s.%s", keypath, (const char *)key->data.scalar.value);
		if (config_scalar_is(key, "blob_endpoint")) {
			rc = config_read_url(reader, sub, v, (char **)&az->blob_endpoint);
			if (rc == 0 && config_azure_endpoint_names_container(az->blob_endpoint)) {
				config_error(
				    reader, v,
				    "%s: '%s' names a container (the runtime then keeps the "
				    "files in a folder named by Container within it, which "
				    "is not supported); give the account's endpoint and the "
				    "container in container:",
				    sub, config_shown(v, shown, sizeof(shown)));
				rc = -1;
			}
		} else if (config_scalar_is(key, "account_name")) {
			rc = config_read_name(reader, sub, v, (char **)&az->account_name);
		} else if (config_scalar_is(key, "account_key_file")) {
			rc = config_read_string(reader, sub, v, CONFIG_NONEMPTY,
			                        (char **)&az->account_key_file);
			key_file = key;
		} else if (config_scalar_is(key, "shared_access_signature_file")) {
			rc = config_read_string(reader, sub, v, CONFIG_NONEMPTY,
			                        (char **)&az->shared_access_signature_file);
			sas_file = key;
		} else if (config_scalar_is(key, "container")) {
			rc = config_read_name(reader, sub, v, (char **)&az->container);
		} else if (config_scalar_is(key, "max_connections")) {
			rc = config_read_count(reader, sub, v, 1, CONFIG_STORE_MAX_CONNECTIONS,
			                       &az->max_connections);
		} else if (config_refused(reader, sub, key, config_azure_refused) != 0) {
			rc = -1;
		} else {
			config_error(reader, key, "%s: unknown key '%s' (expected %s)", keypath,
			             config_shown(key, shown, sizeof(shown)), CONFIG_AZURE_KEYS);
			rc = -1;
		}
		if (rc != 0)
			return -1;
	}
	if (key_file != NULL && sas_file != NULL) {
		config_error(
		    reader,
		    key_file->start_mark.line > sas_file->start_mark.line ? key_file : sas_file,
		    "%s: give account_key_file or shared_access_signature_file, not both", keypath);
		return -1;
	}
	if (az->account_name == NULL)
		return config_store_missing(reader, keypath, value, "account_name",
		                            "the storage account, e.g. devstoreaccount1");
	if (az->container == NULL)
		return config_store_missing(reader, keypath, value, "container",
		                            "the container that holds the files");
	return 0;
}

/* config_store_key: the node of key in a target's settings mapping, or NULL. */
static const yaml_node_t *
config_store_key(struct config_reader *reader, const yaml_node_t *settings, const char *key)
{
	const yaml_node_pair_t *pair;

	for (pair = settings->data.mapping.pairs.start; pair < settings->data.mapping.pairs.top;
	     pair++)
		if (config_scalar_is(config_node(reader, pair->key), key))
			return config_node(reader, pair->key);
	return NULL;
}

/* config_check_store: target names one file store, and blob_dir's keys only with blob_dir. */
int
config_check_store(struct config_reader *reader, const yaml_node_t *name,
                   const yaml_node_t *settings, const struct config_target *target)
{
	static const char *const folder_only[] = {"blob_owner", "blob_group", "blob_dir_mode",
	                                          "blob_file_mode"};
	const char *store = target->s3 != NULL ? "s3" : "azure";
	const yaml_node_t *key;
	int stores = (target->blob_dir != NULL) + (target->s3 != NULL) + (target->azure != NULL);

	if (stores == 0) {
		config_error(reader, name,
		             "targets.%s: missing required key 'blob_dir' (or s3 or azure: where "
		             "the application's files are)",
		             target->name);
		return -1;
	}
	if (stores > 1) {
		key = config_store_key(reader, settings, target->azure != NULL ? "azure" : "s3");
		config_error(
		    reader, key,
		    "targets.%s: %s and %s both name a file store (keep one of blob_dir, s3 "
		    "and azure)",
		    target->name, target->blob_dir != NULL ? "blob_dir" : "s3",
		    target->azure != NULL ? "azure" : "s3");
		return -1;
	}
	if (target->blob_dir != NULL)
		return 0;
	for (size_t i = 0; i < sizeof(folder_only) / sizeof(folder_only[0]); i++)
		if ((key = config_store_key(reader, settings, folder_only[i])) != NULL) {
			config_error(reader, key,
			             "targets.%s.%s: only for blob_dir (the objects of an %s store "
			             "have no owner, group or mode; remove the key)",
			             target->name, folder_only[i], store);
			return -1;
		}
	return 0;
}

/* config_store_free: release what config_read_s3 and config_read_azure gave target. */
void
config_store_free(struct config_target *target)
{
	struct store_s3 *s3 = target->s3;
	struct store_azure *az = target->azure;

	if (s3 != NULL) {
		free((char *)s3->endpoint);
		free((char *)s3->region);
		free((char *)s3->bucket);
		free((char *)s3->prefix);
		free((char *)s3->suffix);
		free((char *)s3->access_key_id);
		free((char *)s3->secret_access_key_file);
		free((char *)s3->session_token_file);
		free(s3);
	}
	if (az != NULL) {
		free((char *)az->blob_endpoint);
		free((char *)az->account_name);
		free((char *)az->account_key_file);
		free((char *)az->shared_access_signature_file);
		free((char *)az->container);
		free(az);
	}
	target->s3 = NULL;
	target->azure = NULL;
}
