/* test-offer.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry-offer.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 30000
#define HEX_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct
{
  char *dir;     /* where the sender's files live */
  char *target;  /* a receiver's folder, which validation must never touch */
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ferry_test_make_temp_dir ("offer");
  fixture->target = g_build_filename (fixture->dir, "target", NULL);
  g_assert_no_errno (g_mkdir (fixture->target, 0700));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  ferry_test_clear_temp_dir (&fixture->dir);
  g_free (fixture->target);
}

static void
assert_folder_empty (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);

  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
}

static void
write_file (const char *path,
            const char *contents,
            gssize      len)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
}

typedef struct
{
  FerryOffer *offer;
  GError     *error;
  gboolean    done;
} BuildResult;

static void
build_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  BuildResult *build = user_data;

  build->offer = ferry_offer_new_from_files_finish (result, &build->error);
  build->done = TRUE;
}

static FerryOffer *
build_offer_with_text (GFile      **files,
                       guint        n_files,
                       const char  *text,
                       GError     **error)
{
  BuildResult build = { 0 };

  ferry_offer_new_async (files, n_files, text, NULL, build_done_cb, &build);
  g_assert_true (ferry_test_wait_for_flag (&build.done, TIMEOUT_MS));
  if (build.error != NULL)
    g_propagate_error (error, build.error);
  return build.offer;
}

static FerryOffer *
build_offer (GFile  **files,
             guint    n_files,
             GError **error)
{
  return build_offer_with_text (files, n_files, NULL, error);
}

static void
assert_offers_equal (FerryOffer *a,
                     FerryOffer *b)
{
  g_autofree char *key_a = ferry_offer_dup_transfer_key (a);
  g_autofree char *key_b = ferry_offer_dup_transfer_key (b);

  g_assert_cmpuint (ferry_offer_get_n_entries (a), ==, ferry_offer_get_n_entries (b));
  g_assert_cmpuint (ferry_offer_get_n_files (a), ==, ferry_offer_get_n_files (b));
  g_assert_cmpuint (ferry_offer_get_n_folders (a), ==, ferry_offer_get_n_folders (b));
  g_assert_cmpuint (ferry_offer_get_total_size (a), ==, ferry_offer_get_total_size (b));

  for (guint i = 0; i < ferry_offer_get_n_entries (a); i++)
    {
      const FerryOfferEntry *ea = ferry_offer_get_entry (a, i);
      const FerryOfferEntry *eb = ferry_offer_get_entry (b, i);

      g_assert_cmpstr (ferry_offer_entry_get_path (ea), ==, ferry_offer_entry_get_path (eb));
      g_assert_cmpint (ferry_offer_entry_get_kind (ea), ==, ferry_offer_entry_get_kind (eb));
      g_assert_cmpuint (ferry_offer_entry_get_size (ea), ==, ferry_offer_entry_get_size (eb));
      g_assert_cmpuint (ferry_offer_entry_get_mode (ea), ==, ferry_offer_entry_get_mode (eb));
      g_assert_cmpint (ferry_offer_entry_get_mtime (ea), ==, ferry_offer_entry_get_mtime (eb));
      g_assert_cmpstr (ferry_offer_entry_get_content_id (ea), ==,
                       ferry_offer_entry_get_content_id (eb));
    }

  g_assert_cmpstr (key_a, ==, key_b);
}

static void
test_round_trip (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *top = g_build_filename (fixture->dir, "Ünïcödé 文件 🚢", NULL);
  g_autofree char *empty = g_build_filename (top, "empty folder", NULL);
  g_autofree char *many = g_build_filename (top, "many", NULL);
  g_autofree char *script = g_build_filename (top, "run.sh", NULL);
  g_autofree char *link = g_build_filename (top, "escape", NULL);
  g_autofree char *fifo = g_build_filename (top, "pipe", NULL);
  g_autofree char *single = g_build_filename (fixture->dir, "ελληνικά.txt", NULL);
  GFile *files[2] = { NULL, NULL };
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(FerryOffer) received = NULL;
  g_autoptr(FerryFileDigest) digest = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  const FerryOfferEntry *entry;
  gsize len;

  g_assert_no_errno (g_mkdir (top, 0755));
  g_assert_no_errno (g_mkdir (empty, 0755));
  g_assert_no_errno (g_mkdir (many, 0755));
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/file-%04u", many, i);
      g_autofree char *body = g_strdup_printf ("contents of file %u\n", i);

      write_file (name, body, -1);
    }
  write_file (script, "#!/bin/sh\necho hi\n", -1);
  g_assert_no_errno (chmod (script, 04755));
  write_file (single, "γειά", -1);
  /* Points outside the chosen tree: must be skipped, not followed. */
  g_assert_no_errno (symlink ("/etc/passwd", link));
  g_assert_no_errno (mkfifo (fifo, 0600));

  files[0] = g_file_new_for_path (top);
  files[1] = g_file_new_for_path (single);
  offer = build_offer (files, 2, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (ferry_offer_get_n_files (offer), ==, 2002);
  g_assert_cmpuint (ferry_offer_get_n_folders (offer), ==, 3);
  g_assert_cmpuint (ferry_offer_get_n_entries (offer), ==, 2005);
  g_assert_cmpuint (ferry_offer_get_n_skipped_symlinks (offer), ==, 1);
  g_assert_cmpuint (ferry_offer_get_n_skipped_special (offer), ==, 1);
  g_assert_null (ferry_offer_lookup (offer, "Ünïcödé 文件 🚢/escape"));

  entry = ferry_offer_lookup (offer, "Ünïcödé 文件 🚢/empty folder");
  g_assert_nonnull (entry);
  g_assert_cmpint (ferry_offer_entry_get_kind (entry), ==, FERRY_OFFER_ENTRY_FOLDER);
  g_assert_null (ferry_offer_entry_get_content_id (entry));

  /* setuid is dropped; only "executable" survives. */
  entry = ferry_offer_lookup (offer, "Ünïcödé 文件 🚢/run.sh");
  g_assert_nonnull (entry);
  g_assert_cmpuint (ferry_offer_entry_get_mode (entry), ==, 0755);

  entry = ferry_offer_lookup (offer, "Ünïcödé 文件 🚢/many/file-1999");
  g_assert_nonnull (entry);
  g_assert_cmpuint (ferry_offer_entry_get_size (entry), ==, strlen ("contents of file 1999\n"));
  g_assert_cmpuint (ferry_offer_entry_get_mode (entry), ==, 0644);
  digest = ferry_hasher_hash_file (ferry_offer_entry_get_local_file (entry), NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *hex = ferry_file_digest_dup_content_id_hex (digest);
    g_assert_cmpstr (ferry_offer_entry_get_content_id (entry), ==, hex);
  }

  entry = ferry_offer_lookup (offer, "ελληνικά.txt");
  g_assert_nonnull (entry);
  g_assert_cmpuint (ferry_offer_entry_get_size (entry), ==, strlen ("γειά"));

  json = ferry_offer_to_json (offer, &len);
  g_assert_cmpuint (len, ==, strlen (json));
  received = ferry_offer_new_from_json (json, len, NULL, &error);
  g_assert_no_error (error);
  assert_offers_equal (offer, received);
  g_assert_null (ferry_offer_entry_get_local_file (ferry_offer_get_entry (received, 0)));

  /* The paths key ignores contents; the transfer key does not. */
  {
    g_autofree char *paths_a = ferry_offer_dup_selection_key (offer);
    g_autofree char *paths_b = NULL;
    g_autofree char *key_a = ferry_offer_dup_transfer_key (offer);
    g_autofree char *key_b = NULL;
    g_autoptr(FerryOffer) changed = NULL;

    write_file (single, "changed", -1);
    changed = build_offer (files, 2, &error);
    g_assert_no_error (error);
    paths_b = ferry_offer_dup_selection_key (changed);
    key_b = ferry_offer_dup_transfer_key (changed);
    g_assert_cmpstr (paths_a, ==, paths_b);
    g_assert_cmpstr (key_a, !=, key_b);
  }

  g_object_unref (files[0]);
  g_object_unref (files[1]);
}

static void
test_sender_refuses_case_clash (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autofree char *top = g_build_filename (fixture->dir, "top", NULL);
  g_autofree char *a = g_build_filename (top, "Readme", NULL);
  g_autofree char *b = g_build_filename (top, "README", NULL);
  g_autoptr(GFile) file = NULL;
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_no_errno (g_mkdir (top, 0755));
  write_file (a, "1", -1);
  write_file (b, "2", -1);
  file = g_file_new_for_path (top);
  offer = build_offer (&file, 1, &error);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_DUPLICATE_PATH);
  g_assert_null (offer);
  g_assert_nonnull (strstr (error->message, "top/Readme"));
  g_assert_nonnull (strstr (error->message, "top/README"));
}

static void
test_sender_refuses_bad_names (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autofree char *top = g_build_filename (fixture->dir, "top", NULL);
  g_autofree char *bad = g_build_filename (top, "latin1-\xe9t\xe9.txt", NULL);
  g_autofree char *backslash = g_build_filename (fixture->dir, "back\\slash", NULL);
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFile) other = NULL;
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(GError) error = NULL;

  /* A Linux name that is not UTF-8 can't be offered: named, escaped. */
  g_assert_no_errno (g_mkdir (top, 0755));
  write_file (bad, "x", -1);
  file = g_file_new_for_path (top);
  offer = build_offer (&file, 1, &error);
  g_assert_null (offer);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_INVALID_UTF8);
  g_assert_nonnull (strstr (error->message, "latin1-\\xE9t\\xE9.txt"));
  g_clear_error (&error);

  /* Neither can a name the receiver would refuse. */
  write_file (backslash, "x", -1);
  other = g_file_new_for_path (backslash);
  offer = build_offer (&other, 1, &error);
  g_assert_null (offer);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER);
}

static void
test_sender_cancelled (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "a.txt", NULL);
  g_autoptr(GFile) file = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  BuildResult build = { 0 };

  write_file (path, "a", -1);
  file = g_file_new_for_path (path);
  g_cancellable_cancel (cancellable);
  ferry_offer_new_from_files_async (&file, 1, cancellable, build_done_cb, &build);
  g_assert_true (ferry_test_wait_for_flag (&build.done, TIMEOUT_MS));
  g_assert_error (build.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (build.offer);
  g_clear_error (&build.error);
}

static char *
file_entry (const char *path_json)
{
  return g_strdup_printf ("{\"path\":%s,\"type\":\"file\",\"size\":1,\"mode\":420,"
                          "\"mtime\":0,\"content_id\":\"" HEX_ID "\"}", path_json);
}

static char *
offer_json (const char *entries)
{
  return g_strdup_printf ("{\"ferry-offer\":1,\"entries\":[%s]}", entries);
}

typedef struct
{
  const char *json;   /* whole offer, or NULL to make one file entry of path_json */
  const char *path_json;
  int         code;
} HostileCase;

static void
test_hostile (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *long_name = NULL;
  g_autofree char *long_path = NULL;
  g_autofree char *long_name_json = NULL;
  g_autofree char *long_path_json = NULL;
  g_autofree char *ok_path = NULL;
  const HostileCase cases[] = {
    { NULL, "\"/etc/passwd\"", FERRY_OFFER_ERROR_ABSOLUTE_PATH },
    { NULL, "\"../escape\"", FERRY_OFFER_ERROR_DOT_COMPONENT },
    { NULL, "\"a/../../b\"", FERRY_OFFER_ERROR_DOT_COMPONENT },
    { NULL, "\"a/./b\"", FERRY_OFFER_ERROR_DOT_COMPONENT },
    { NULL, "\"..\"", FERRY_OFFER_ERROR_DOT_COMPONENT },
    { NULL, "\"a//b\"", FERRY_OFFER_ERROR_EMPTY_COMPONENT },
    { NULL, "\"a/\"", FERRY_OFFER_ERROR_EMPTY_COMPONENT },
    { NULL, "\"\"", FERRY_OFFER_ERROR_EMPTY_COMPONENT },
    { NULL, "\"a\\\\b\"", FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER },
    { NULL, "\"..\\\\..\\\\x\"", FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER },
    { NULL, "\"bell\\u0007\"", FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER },
    { NULL, "\"new\\nline\"", FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER },
    { NULL, "\"c1\\u009b\"", FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER },
    { NULL, "\"nul\\u0000.txt\"", FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER },
    { NULL, "\"bad\xff\xfe\"", FERRY_OFFER_ERROR_INVALID_UTF8 },
    { NULL, "\"surrogate\\ud800\"", FERRY_OFFER_ERROR_INVALID_UTF8 },
    { NULL, "\"surrogate\\ud800x\"", FERRY_OFFER_ERROR_INVALID_UTF8 },
    { NULL, "\"low\\uDC00\"", FERRY_OFFER_ERROR_INVALID_UTF8 },
    { NULL, "\"pair\\ud83d\\ude00\\u0001\"", FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER },
    { NULL, "\"CON\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    { NULL, "\"dir/con.txt\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    /* The confinement rule: below a folder the offer holds, or nowhere. */
    { NULL, "\".ssh/authorized_keys\"", FERRY_OFFER_ERROR_UNOFFERED_FOLDER },
    { NULL, "\"Lpt9.tar.gz\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    { NULL, "\"aux\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    { NULL, "\"nul .log\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    { NULL, "\"com1\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    { NULL, "\"PRN.txt\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    { NULL, "\"x.ferry-part\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    { NULL, "\"x.Ferry-PART\"", FERRY_OFFER_ERROR_RESERVED_NAME },
    { NULL, NULL, FERRY_OFFER_ERROR_NAME_TOO_LONG },  /* filled in below */
    { NULL, NULL, FERRY_OFFER_ERROR_PATH_TOO_LONG },  /* filled in below */
    { "{\"ferry-offer\":1,\"entries\":[" "{\"path\":\"a\",\"type\":\"folder\",\"mode\":493},"
      "{\"path\":\"a\",\"type\":\"folder\",\"mode\":493}]}", NULL,
      FERRY_OFFER_ERROR_DUPLICATE_PATH },
    { "{\"ferry-offer\":1,\"entries\":[" "{\"path\":\"d/Readme.md\",\"type\":\"folder\"},"
      "{\"path\":\"d/README.MD\",\"type\":\"folder\"}]}", NULL,
      FERRY_OFFER_ERROR_DUPLICATE_PATH },
    /* "é" precomposed and decomposed */
    { "{\"ferry-offer\":1,\"entries\":[" "{\"path\":\"caf\\u00e9\",\"type\":\"folder\"},"
      "{\"path\":\"cafe\\u0301\",\"type\":\"folder\"}]}", NULL,
      FERRY_OFFER_ERROR_DUPLICATE_PATH },
    { "{\"ferry-offer\":1,\"entries\":[" "{\"path\":\"a\",\"type\":\"file\",\"size\":1,"
      "\"content_id\":\"" HEX_ID "\"},{\"path\":\"a/b\",\"type\":\"folder\"}]}", NULL,
      FERRY_OFFER_ERROR_TYPE_CONFLICT },
    { "{\"ferry-offer\":1,\"entries\":[" "{\"path\":\"A/b/c\",\"type\":\"folder\"},"
      "{\"path\":\"a/B\",\"type\":\"file\",\"size\":0,\"content_id\":\"" HEX_ID "\"}]}", NULL,
      FERRY_OFFER_ERROR_TYPE_CONFLICT },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\",\"size\":-1,"
      "\"content_id\":\"" HEX_ID "\"}]}", NULL, FERRY_OFFER_ERROR_INVALID_SIZE },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\",\"size\":1.5,"
      "\"content_id\":\"" HEX_ID "\"}]}", NULL, FERRY_OFFER_ERROR_INVALID_SIZE },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\",\"size\":\"12\","
      "\"content_id\":\"" HEX_ID "\"}]}", NULL, FERRY_OFFER_ERROR_INVALID_SIZE },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\","
      "\"size\":18446744073709551617,\"content_id\":\"" HEX_ID "\"}]}", NULL,
      FERRY_OFFER_ERROR_INVALID_SIZE },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\","
      "\"size\":9223372036854775807,\"content_id\":\"" HEX_ID "\"}]}", NULL,
      FERRY_OFFER_ERROR_INVALID_SIZE },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\","
      "\"size\":600000000000000,\"content_id\":\"" HEX_ID "\"},"
      "{\"path\":\"g\",\"type\":\"file\","
      "\"size\":600000000000000,\"content_id\":\"" HEX_ID "\"}]}", NULL,
      FERRY_OFFER_ERROR_TOTAL_TOO_LARGE },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\",\"size\":1,"
      "\"mode\":2541,\"content_id\":\"" HEX_ID "\"}]}", NULL, FERRY_OFFER_ERROR_INVALID_MODE },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\",\"size\":1,"
      "\"mode\":-1,\"content_id\":\"" HEX_ID "\"}]}", NULL, FERRY_OFFER_ERROR_INVALID_MODE },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\",\"size\":1}]}",
      NULL, FERRY_OFFER_ERROR_INVALID_CONTENT_ID },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"f\",\"type\":\"file\",\"size\":1,"
      "\"content_id\":\"../../etc\"}]}", NULL, FERRY_OFFER_ERROR_INVALID_CONTENT_ID },
    { "{\"ferry-offer\":2,\"entries\":[]}", NULL, FERRY_OFFER_ERROR_UNSUPPORTED_VERSION },
    { "{\"ferry-offer\":1,\"entries\":[]}", NULL, FERRY_OFFER_ERROR_EMPTY },
    { "{\"ferry-offer\":1,\"n_entries\":5,\"entries\":[{\"path\":\"a\",\"type\":\"folder\"}]}",
      NULL, FERRY_OFFER_ERROR_MALFORMED },
    { "{\"ferry-offer\":1,\"entries\":[{\"path\":\"a\",\"type\":\"symlink\"}]}",
      NULL, FERRY_OFFER_ERROR_MALFORMED },
    { "{\"ferry-offer\":1,\"entries\":{}}", NULL, FERRY_OFFER_ERROR_MALFORMED },
    { "{\"ferry-offer\":1,\"total_size\":5,\"entries\":[{\"path\":\"f\",\"type\":\"file\","
      "\"size\":1,\"content_id\":\"" HEX_ID "\"}]}", NULL, FERRY_OFFER_ERROR_MALFORMED },
    { "{\"ferry-offer\":1,\"entries\":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}", NULL,
      FERRY_OFFER_ERROR_MALFORMED },
    { "[1,2,3]", NULL, FERRY_OFFER_ERROR_MALFORMED },
    { "{\"ferry-offer\":1,\"entries\":[", NULL, FERRY_OFFER_ERROR_MALFORMED },
    { "", NULL, FERRY_OFFER_ERROR_MALFORMED },
  };

  long_name = g_strnfill (256, 'n');
  long_name_json = g_strdup_printf ("\"%s\"", long_name);
  {
    g_autoptr(GString) path = g_string_new ("\"");

    while (path->len < 4200)
      g_string_append (path, "abcdefghijklmnopqrstuvwxyz/");
    g_string_append (path, "end\"");
    long_path_json = g_string_free (g_steal_pointer (&path), FALSE);
  }

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *entry = NULL;
      g_autofree char *json = NULL;
      g_autoptr(FerryOffer) offer = NULL;
      g_autoptr(GError) error = NULL;
      const char *path_json = cases[i].path_json;

      if (cases[i].code == FERRY_OFFER_ERROR_NAME_TOO_LONG)
        path_json = long_name_json;
      else if (cases[i].code == FERRY_OFFER_ERROR_PATH_TOO_LONG)
        path_json = long_path_json;

      if (cases[i].json != NULL)
        json = g_strdup (cases[i].json);
      else
        {
          entry = file_entry (path_json);
          json = offer_json (entry);
        }

      g_test_message ("case %u: %.200s", i, json);
      offer = ferry_offer_new_from_json (json, strlen (json), NULL, &error);
      g_assert_null (offer);
      g_assert_error (error, FERRY_OFFER_ERROR, cases[i].code);

      /* Messages are safe to print: no control characters or raw bytes. */
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      for (const char *p = error->message; *p; p++)
        g_assert_cmpint ((guchar) *p, >=, 0x20);

      assert_folder_empty (fixture->target);
    }

  /* The same entry with a sane name is accepted: the cases fail for their reason. */
  ok_path = file_entry ("\"CONSOLE/com0/nul_/x.ferry-partial/\\u00e9t\\u00e9 2024.txt\"");
  {
    g_autofree char *entries = g_strconcat ("{\"path\":\"CONSOLE\",\"type\":\"folder\"},",
                                            ok_path, NULL);
    g_autofree char *json = offer_json (entries);
    g_autoptr(FerryOffer) offer = NULL;
    g_autoptr(GError) error = NULL;

    offer = ferry_offer_new_from_json (json, strlen (json), NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (ferry_offer_get_n_files (offer), ==, 1);
  }
}

static void
test_message_escaping (void)
{
  const char *json = "{\"ferry-offer\":1,\"entries\":[{\"path\":\"evil\\u202egnp.exe\\u0007\","
                     "\"type\":\"folder\"}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryOffer) offer = NULL;

  offer = ferry_offer_new_from_json (json, strlen (json), NULL, &error);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER);
  g_assert_nonnull (strstr (error->message, "evil\\u{202E}gnp.exe\\x07"));

  {
    g_autofree char *escaped = ferry_offer_escape_name ("a\xff\\b", -1);
    g_assert_cmpstr (escaped, ==, "a\\xFF\\\\b");
  }
}

static void
test_size_limit (void)
{
  FerryOfferLimits limits;
  g_autofree char *entry = file_entry ("\"ok\"");
  g_autofree char *json = offer_json (entry);
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryOffer) offer = NULL;

  ferry_offer_limits_init_default (&limits);
  limits.max_json_size = strlen (json) - 1;
  offer = ferry_offer_new_from_json (json, strlen (json), &limits, &error);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TOO_LARGE);
  g_assert_null (offer);
  g_clear_error (&error);

  limits.max_json_size = strlen (json);
  limits.max_entries = 1;
  offer = ferry_offer_new_from_json (json, strlen (json), &limits, &error);
  g_assert_no_error (error);
}

static glong
peak_rss_kib (void)
{
  struct rusage usage;

  g_assert_no_errno (getrusage (RUSAGE_SELF, &usage));
  return usage.ru_maxrss;
}

static void
assert_refused_fast (const GString           *json,
                     const FerryOfferLimits  *limits,
                     int                      code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryOffer) offer = NULL;
  glong rss_before = peak_rss_kib ();
  gint64 start = g_get_monotonic_time ();

  offer = ferry_offer_new_from_json (json->str, json->len, limits, &error);
  g_assert_error (error, FERRY_OFFER_ERROR, code);
  g_assert_null (offer);
  /* One pass over the bytes, nothing built: well under a second, and the
   * peak memory does not move by more than a few MiB.
   */
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  g_assert_cmpint (peak_rss_kib () - rss_before, <, 8 * 1024);
}

static void
test_million_entries (void)
{
  g_autoptr(GString) small = g_string_sized_new (4 * 1000 * 1000);
  g_autoptr(GString) full = g_string_sized_new (120 * 1000 * 1000);
  FerryOfferLimits limits;

  /* Small entries: fits the size limit, so the count must stop it. */
  g_string_append (small, "{\"ferry-offer\":1,\"n_entries\":1000000,\"entries\":[");
  for (guint i = 0; i < 1000000; i++)
    g_string_append (small, i ? ",{}" : "{}");
  g_string_append (small, "]}");
  assert_refused_fast (small, NULL, FERRY_OFFER_ERROR_TOO_MANY_ENTRIES);

  /* Realistic entries: over 64 MiB, refused by size before even a scan. */
  g_string_append (full, "{\"ferry-offer\":1,\"n_entries\":1000000,\"entries\":[");
  for (guint i = 0; i < 1000000; i++)
    g_string_append_printf (full, "%s{\"path\":\"f%u\",\"type\":\"file\",\"size\":0,"
                            "\"mode\":420,\"mtime\":0,\"content_id\":\"" HEX_ID "\"}",
                            i ? "," : "", i);
  g_string_append (full, "]}");
  assert_refused_fast (full, NULL, FERRY_OFFER_ERROR_TOO_LARGE);

  /* Even with no size limit, the scan refuses it by count. */
  ferry_offer_limits_init_default (&limits);
  limits.max_json_size = G_MAXSIZE;
  assert_refused_fast (full, &limits, FERRY_OFFER_ERROR_TOO_MANY_ENTRIES);
}

static void
test_limit_boundary (void)
{
  g_autoptr(GString) json = g_string_sized_new (12 * 1000 * 1000);
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  /* Exactly the default limit of entries is fine, and not slow… */
  g_string_append (json, "{\"ferry-offer\":1,\"entries\":[{\"path\":\"d\",\"type\":\"folder\"}");
  for (guint i = 1; i < 100000; i++)
    g_string_append_printf (json, ",{\"path\":\"d/f%u\",\"type\":\"file\",\"size\":%u,"
                            "\"content_id\":\"" HEX_ID "\"}", i, i);
  g_string_append (json, "]}");

  start = g_get_monotonic_time ();
  offer = ferry_offer_new_from_json (json->str, json->len, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("100000 entries validated in %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpuint (ferry_offer_get_n_entries (offer), ==, 100000);
  g_assert_cmpuint (ferry_offer_get_total_size (offer), ==, (guint64) 99999 * 100000 / 2);
  g_clear_object (&offer);

  /* … one more is not. */
  g_string_truncate (json, json->len - 2);
  g_string_append (json, ",{\"path\":\"one-more\",\"type\":\"folder\"}]}");
  offer = ferry_offer_new_from_json (json->str, json->len, NULL, &error);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TOO_MANY_ENTRIES);
  g_assert_null (offer);
}

typedef struct
{
  const char      *json;
  FerryOfferError  code;
} TextCase;

/* Text travels in the offer, alone or with files, exactly as sent; the key
 * of a text-only send depends on the text, so two notes are two sends. */
/* The offer's JSON parses back to an offer with the same text. */
static void
assert_text_round_trips (FerryOffer *offer,
                         const char *text)
{
  g_autofree char *json = ferry_offer_to_json (offer, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryOffer) parsed = ferry_offer_new_from_json (json, strlen (json), NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (ferry_offer_get_text (parsed), ==, text);
  assert_offers_equal (offer, parsed);
}

static void
test_text (Fixture       *fixture,
           gconstpointer  data)
{
  const char *text = "Gleis 3 \xe2\x80\x93 caf\xc3\xa9\n\thttps://example.org/?a=1&b=\"2\"";
  g_autofree char *path = g_build_filename (fixture->dir, "note.txt", NULL);
  g_autofree char *big = g_strnfill (FERRY_OFFER_MAX_TEXT_BYTES + 1, 'a');
  g_autoptr(GFile) file = NULL;
  g_autoptr(FerryOffer) alone = NULL;
  g_autoptr(FerryOffer) other = NULL;
  g_autoptr(FerryOffer) with_file = NULL;
  g_autoptr(FerryOffer) none = NULL;
  g_autoptr(FerryOffer) too_long = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *other_key = NULL;

  alone = build_offer_with_text (NULL, 0, text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ferry_offer_get_n_entries (alone), ==, 0);
  g_assert_cmpstr (ferry_offer_get_text (alone), ==, text);
  assert_text_round_trips (alone, text);

  other = build_offer_with_text (NULL, 0, "another note", &error);
  g_assert_no_error (error);
  key = ferry_offer_dup_transfer_key (alone);
  other_key = ferry_offer_dup_transfer_key (other);
  g_assert_cmpstr (key, !=, other_key);

  write_file (path, "x", 1);
  file = g_file_new_for_path (path);
  with_file = build_offer_with_text (&file, 1, text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ferry_offer_get_n_files (with_file), ==, 1);
  assert_text_round_trips (with_file, text);

  /* Nothing at all is still no offer, on either side. */
  none = build_offer_with_text (NULL, 0, NULL, &error);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_EMPTY);
  g_assert_null (none);
  g_clear_error (&error);

  /* A sender's text over the limit fails before any file is hashed. */
  too_long = build_offer_with_text (&file, 1, big, &error);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TEXT_TOO_LONG);
  g_assert_null (too_long);
}

/* The offer's "text" as a sender writes it: pieces of @piece bytes. */
static char *
text_offer_json (const char *text,
                 gsize       piece)
{
  g_autoptr(GString) json = g_string_new ("{\"ferry-offer\":1,\"entries\":[],\"text\":[");
  gsize len = strlen (text);

  for (gsize at = 0; at < len; at += piece)
    g_string_append_printf (json, "%s\"%.*s\"", at > 0 ? "," : "",
                            (int) MIN (piece, len - at), text + at);
  g_string_append (json, "]}");
  return g_string_free (g_steal_pointer (&json), FALSE);
}

/* A hostile peer's text: over the limit, empty, not strings, pieces longer
 * than a sender makes, a NUL hidden in an escape or invalid UTF-8 are
 * refused; the limit itself, and escapes in every byte of a piece, are not. */
static void
test_hostile_text (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *at_limit = g_strnfill (FERRY_OFFER_MAX_TEXT_BYTES, 'a');
  g_autofree char *over_limit = g_strnfill (FERRY_OFFER_MAX_TEXT_BYTES + 1, 'a');
  g_autofree char *over_json = text_offer_json (over_limit, 1024);
  g_autofree char *limit_json = text_offer_json (at_limit, 1024);
  g_autofree char *long_piece = text_offer_json (at_limit, 1025);
  /* Escapes count as the bytes they stand for, not as they are written. */
  g_autoptr(GString) escaped = g_string_new ("{\"ferry-offer\":1,\"entries\":[],\"text\":[");
  const TextCase cases[] = {
    { over_json, FERRY_OFFER_ERROR_TEXT_TOO_LONG },
    { long_piece, FERRY_OFFER_ERROR_INVALID_TEXT },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":[]}", FERRY_OFFER_ERROR_INVALID_TEXT },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":[\"\"]}", FERRY_OFFER_ERROR_INVALID_TEXT },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":[\"a\",\"\"]}", FERRY_OFFER_ERROR_INVALID_TEXT },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":\"a\"}", FERRY_OFFER_ERROR_INVALID_TEXT },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":[7]}", FERRY_OFFER_ERROR_INVALID_TEXT },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":null}", FERRY_OFFER_ERROR_INVALID_TEXT },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":[[\"a\"]]}", FERRY_OFFER_ERROR_INVALID_TEXT },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":[\"a\\u0000b\"]}",
      FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":[\"bad\xff\"]}",
      FERRY_OFFER_ERROR_INVALID_UTF8 },
    { "{\"ferry-offer\":1,\"entries\":[],\"text\":[\"\\ud800\"]}",
      FERRY_OFFER_ERROR_INVALID_UTF8 },
    { "{\"ferry-offer\":1,\"entries\":[]}", FERRY_OFFER_ERROR_EMPTY },
  };

  for (guint i = 0; i < 64; i++)
    {
      g_string_append (escaped, i > 0 ? ",\"" : "\"");
      for (guint k = 0; k < 1024; k++)
        g_string_append (escaped, "\\u001b");
      g_string_append (escaped, "\"");
    }
  g_string_append (escaped, "]}");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(FerryOffer) offer = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("case %u: %.80s", i, cases[i].json);
      offer = ferry_offer_new_from_json (cases[i].json, strlen (cases[i].json), NULL, &error);
      g_assert_null (offer);
      g_assert_error (error, FERRY_OFFER_ERROR, (gint) cases[i].code);
      assert_folder_empty (fixture->target);
    }

  for (guint i = 0; i < 2; i++)
    {
      const char *json = i == 0 ? limit_json : escaped->str;
      g_autoptr(GError) error = NULL;
      g_autoptr(FerryOffer) offer = ferry_offer_new_from_json (json, strlen (json), NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (strlen (ferry_offer_get_text (offer)), ==, FERRY_OFFER_MAX_TEXT_BYTES);
    }
}

/* The limit's worth of characters needing escapes, in several bytes each,
 * goes out in pieces that a receiver accepts and joins to the same text. */
static void
test_text_pieces (void)
{
  const char *seed = "{\"ferry-offer\":1,\"entries\":[],\"text\":[\"x\"]}";
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryOffer) offer = NULL;

  /* Three-byte characters never line up with the pieces' 1024 bytes. */
  while (text->len + 4 <= FERRY_OFFER_MAX_TEXT_BYTES)
    g_string_append (text, text->len % 7 == 0 ? "\x1b" : "\xe2\x80\xae");
  offer = ferry_offer_new_from_json (seed, strlen (seed), NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ferry_offer_set_text (offer, text->str, &error));
  assert_text_round_trips (offer, text->str);
}

/* Shown text keeps its lines but defuses terminal escapes, carriage
 * returns, direction overrides and invalid bytes; nothing is cut. */
static void
test_text_escaping (void)
{
  g_autofree char *long_text = g_strnfill (1000, 'x');
  g_autofree char *escaped = ferry_offer_escape_text ("a\nb\x1b[31m\r\t\xe2\x80\xae"
                                                      "c\xff\\d\xe2\x80\x8b", -1);
  g_autofree char *escaped_long = ferry_offer_escape_text (long_text, -1);
  g_autofree char *name = ferry_offer_escape_name ("a\nb", -1);

  g_assert_cmpstr (escaped, ==, "a\nb\\x1B[31m\\x0D\\x09\\u{202E}c\\xFF\\\\d\\u{200B}");
  g_assert_cmpstr (escaped_long, ==, long_text);
  /* A name never keeps a line break. */
  g_assert_cmpstr (name, ==, "a\\x0Ab");
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/offer/round-trip", Fixture, NULL,
              fixture_set_up, test_round_trip, fixture_tear_down);
  g_test_add ("/offer/sender-refuses-case-clash", Fixture, NULL,
              fixture_set_up, test_sender_refuses_case_clash, fixture_tear_down);
  g_test_add ("/offer/sender-refuses-bad-names", Fixture, NULL,
              fixture_set_up, test_sender_refuses_bad_names, fixture_tear_down);
  g_test_add ("/offer/sender-cancelled", Fixture, NULL,
              fixture_set_up, test_sender_cancelled, fixture_tear_down);
  g_test_add ("/offer/hostile", Fixture, NULL,
              fixture_set_up, test_hostile, fixture_tear_down);
  g_test_add ("/offer/text", Fixture, NULL,
              fixture_set_up, test_text, fixture_tear_down);
  g_test_add ("/offer/hostile-text", Fixture, NULL,
              fixture_set_up, test_hostile_text, fixture_tear_down);
  g_test_add_func ("/offer/text-pieces", test_text_pieces);
  g_test_add_func ("/offer/text-escaping", test_text_escaping);
  g_test_add_func ("/offer/message-escaping", test_message_escaping);
  g_test_add_func ("/offer/size-limit", test_size_limit);
  g_test_add_func ("/offer/million-entries", test_million_entries);
  g_test_add_func ("/offer/limit-boundary", test_limit_boundary);

  return g_test_run ();
}
