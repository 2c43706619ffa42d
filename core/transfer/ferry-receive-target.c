/* ferry-receive-target.c
 *
 * Where received files land. Every path from an offer is resolved inside
 * the chosen folder without ever following a symbolic link: folders are
 * created and opened one component at a time with mkdirat()/openat()
 * (O_NOFOLLOW | O_DIRECTORY) relative to the previous one, so a link placed
 * inside the target, before or during a transfer, cannot redirect a write
 * outside of it.
 *
 * Data goes to "NAME.ferry-part" next to the final name. It is visible on
 * purpose: a person sees that something is arriving and what takes the
 * space, and can delete a leftover. Offers can't use that suffix, so a
 * partial file never collides with an offered name. A partial file is
 * exclusive (see open_partial()): created with O_EXCL or, when resumed or
 * left over, taken only under an exclusive lock held until the rename, so
 * two receivers of the same name never share one. A partial file that
 * another, unfinished transfer may resume (the store knows it) is never
 * opened at all, not even as a leftover: this transfer takes the next
 * partial name (see ferry_receive_target_keep_partial()). Once all bytes are in and
 * the content id matches, the partial file is fsync'd and renamed to its
 * final name without replacing anything: when the name is taken, the file
 * becomes "NAME (1).ext", "NAME (2).ext"… Top-level folders are numbered the
 * same way when they are reserved.
 *
 * The chosen target folder itself is opened following links: the person
 * picked it (~/Downloads is often a link to another disk).
 *
 * Everything here blocks on disk I/O: call it from a worker thread, one
 * thread per FerryReceiveFile at a time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-receive-target"

#define _GNU_SOURCE

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ferry-hasher.h"
#include "ferry-receive-target.h"

/* How many numbered names ("NAME (n)") are tried before giving up. */
#define MAX_NUMBERED_NAMES 9999

struct _FerryReceiveTarget
{
  GObject     parent_instance;

  GFile      *folder;
  int         dir_fd;
  GHashTable *kept_partials;   /* casefolded relative paths other transfers own */
  GHashTable *own_partials;    /* local path → the name of its partial, from before */
};

struct _FerryReceiveFile
{
  FerryReceiveTarget *target;
  int                 dir_fd;        /* the folder the file is in */
  int                 fd;
  char               *dir_path;      /* relative folder, "" at the top */
  char               *name;          /* wanted final name */
  char               *partial_name;
  char               *partial_path;  /* for messages and tests, absolute */
  guint64             size;
  guint64             offset;
  gint64              mtime;
  char               *content_id;
  FerryStreamHasher  *hasher;
};

enum {
  PROP_0,
  PROP_FOLDER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (FerryReceiveTarget, ferry_receive_target, G_TYPE_OBJECT)

G_DEFINE_QUARK (ferry-receive-error-quark, ferry_receive_error)

static void
ferry_receive_target_finalize (GObject *object)
{
  FerryReceiveTarget *self = FERRY_RECEIVE_TARGET (object);

  if (self->dir_fd >= 0)
    close (self->dir_fd);
  g_clear_object (&self->folder);
  g_clear_pointer (&self->kept_partials, g_hash_table_unref);
  g_clear_pointer (&self->own_partials, g_hash_table_unref);

  G_OBJECT_CLASS (ferry_receive_target_parent_class)->finalize (object);
}

static void
ferry_receive_target_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  FerryReceiveTarget *self = FERRY_RECEIVE_TARGET (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      g_value_set_object (value, self->folder);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_receive_target_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  FerryReceiveTarget *self = FERRY_RECEIVE_TARGET (object);

  switch (prop_id)
    {
    case PROP_FOLDER:
      self->folder = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_receive_target_class_init (FerryReceiveTargetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ferry_receive_target_finalize;
  object_class->get_property = ferry_receive_target_get_property;
  object_class->set_property = ferry_receive_target_set_property;

  properties[PROP_FOLDER] =
    g_param_spec_object ("folder", NULL, NULL,
                         G_TYPE_FILE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_receive_target_init (FerryReceiveTarget *self)
{
  self->dir_fd = -1;
  self->kept_partials = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->own_partials = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static gboolean
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *path,
                 const char  *action)
{
  g_autofree char *escaped = ferry_offer_escape_name (path, -1);
  FerryReceiveError code;

  switch (saved_errno)
    {
    case ENOSPC:
    case EDQUOT:
      code = FERRY_RECEIVE_ERROR_NO_SPACE;
      break;

    case ELOOP:
    case ENOTDIR:
      code = FERRY_RECEIVE_ERROR_UNSAFE_PATH;
      break;

    case EACCES:
    case EPERM:
    case EROFS:
      code = FERRY_RECEIVE_ERROR_PERMISSION_DENIED;
      break;

    default:
      code = FERRY_RECEIVE_ERROR_FAILED;
    }

  if (code == FERRY_RECEIVE_ERROR_NO_SPACE)
    g_set_error (error, FERRY_RECEIVE_ERROR, code,
                 "The disk is full while %s “%s”", action, escaped);
  else if (code == FERRY_RECEIVE_ERROR_UNSAFE_PATH)
    g_set_error (error, FERRY_RECEIVE_ERROR, code,
                 "Not %s “%s”: a link or a file is in the way of a folder", action, escaped);
  else
    g_set_error (error, FERRY_RECEIVE_ERROR, code,
                 "Could not finish %s “%s”: %s", action, escaped, g_strerror (saved_errno));
  return FALSE;
}

/**
 * ferry_receive_target_new:
 * @folder: the folder the person chose to receive into; must be local
 *
 * Opens @folder. It stays open, so renaming or replacing it while
 * receiving does not redirect anything.
 *
 * Returns: (transfer full): the target, or %NULL with @error set
 */
FerryReceiveTarget *
ferry_receive_target_new (GFile   *folder,
                          GError **error)
{
  g_autoptr(FerryReceiveTarget) self = NULL;
  g_autofree char *path = NULL;

  g_return_val_if_fail (G_IS_FILE (folder), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  path = g_file_get_path (folder);
  if (path == NULL)
    {
      g_set_error_literal (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_NOT_A_FOLDER,
                           "Files can only be received into a local folder");
      return NULL;
    }

  self = g_object_new (FERRY_TYPE_RECEIVE_TARGET, "folder", folder, NULL);
  self->dir_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->dir_fd < 0)
    {
      int saved_errno = errno;
      g_autofree char *escaped = ferry_offer_escape_name (path, -1);

      if (saved_errno == ENOENT || saved_errno == ENOTDIR)
        g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_NOT_A_FOLDER,
                     "“%s” is not a folder", escaped);
      else
        set_errno_error (error, saved_errno, path, "opening");
      return NULL;
    }

  return g_steal_pointer (&self);
}

/**
 * ferry_receive_target_get_folder:
 *
 * Returns: (transfer none): the chosen folder
 */
GFile *
ferry_receive_target_get_folder (FerryReceiveTarget *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_TARGET (self), NULL);

  return self->folder;
}

/**
 * ferry_receive_target_check_space:
 * @needed: bytes still to be written (for a resume: what is missing)
 *
 * Checks, before accepting an offer, that the disk holding the target has
 * room for @needed bytes.
 *
 * Returns: %FALSE with FERRY_RECEIVE_ERROR_NO_SPACE if it has not
 */
gboolean
ferry_receive_target_check_space (FerryReceiveTarget  *self,
                                  guint64              needed,
                                  GError             **error)
{
  struct statvfs info;
  guint64 available;

  g_return_val_if_fail (FERRY_IS_RECEIVE_TARGET (self), FALSE);

  if (fstatvfs (self->dir_fd, &info) != 0)
    {
      g_autofree char *path = g_file_get_path (self->folder);

      return set_errno_error (error, errno, path, "checking free space on");
    }

  available = (guint64) info.f_bavail * (guint64) info.f_frsize;
  if (needed > available)
    {
      g_autofree char *need = g_format_size (needed);
      g_autofree char *have = g_format_size (available);

      g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_NO_SPACE,
                   "The files need %s but only %s are free on the disk", need, have);
      return FALSE;
    }

  return TRUE;
}

/* Defence in depth: offers were validated already, but local paths may come
 * from the store too. Only plain relative components are accepted.
 */
static gboolean
check_relative_path (const char  *path,
                     GError     **error)
{
  g_auto(GStrv) components = NULL;

  if (path == NULL || path[0] == '\0' || path[0] == '/' || strlen (path) > 4096)
    goto invalid;

  components = g_strsplit (path, "/", -1);
  for (guint i = 0; components[i] != NULL; i++)
    if (components[i][0] == '\0' || strcmp (components[i], ".") == 0
        || strcmp (components[i], "..") == 0 || strlen (components[i]) > 255)
      goto invalid;

  return TRUE;

invalid:
  {
    g_autofree char *escaped = ferry_offer_escape_name (path ? path : "", -1);

    g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_INVALID_PATH,
                 "“%s” is not a safe relative path", escaped);
    return FALSE;
  }
}

/* Opens (creating them as needed) the folders @components[0..n) below
 * @self's folder, never following a link. Returns a new directory fd.
 */
static int
open_folders (FerryReceiveTarget  *self,
              char               **components,
              guint                n,
              const char          *path,
              GError             **error)
{
  int fd = dup (self->dir_fd);

  if (fd < 0)
    {
      set_errno_error (error, errno, path, "opening");
      return -1;
    }

  for (guint i = 0; i < n; i++)
    {
      int next;

      if (mkdirat (fd, components[i], 0755) == 0)
        {
          /* Make the new folder's name durable, or a crash could lose the
           * folder with every verified file in it.
           */
          if (fsync (fd) != 0)
            {
              set_errno_error (error, errno, path, "creating");
              close (fd);
              return -1;
            }
        }
      else if (errno != EEXIST)
        {
          set_errno_error (error, errno, path, "creating");
          close (fd);
          return -1;
        }

      next = openat (fd, components[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        {
          set_errno_error (error, errno, path, "creating");
          close (fd);
          return -1;
        }

      close (fd);
      fd = next;
    }

  return fd;
}

/**
 * ferry_receive_target_make_folder:
 * @path: relative folder path, '/'-separated
 *
 * Creates @path and its parents inside the target. Existing folders are
 * fine; links and files in the way are refused.
 */
gboolean
ferry_receive_target_make_folder (FerryReceiveTarget  *self,
                                  const char          *path,
                                  GError             **error)
{
  g_auto(GStrv) components = NULL;
  int fd;

  g_return_val_if_fail (FERRY_IS_RECEIVE_TARGET (self), FALSE);

  if (!check_relative_path (path, error))
    return FALSE;

  components = g_strsplit (path, "/", -1);
  fd = open_folders (self, components, g_strv_length (components), path, error);
  if (fd < 0)
    return FALSE;

  close (fd);
  return TRUE;
}

/* "NAME (n).ext", cut at a character boundary so that it stays a valid
 * name of at most 255 bytes. For folders there is no extension. A double
 * extension like ".tar.gz" stays together.
 */
static char *
numbered_name (const char *name,
               guint       n,
               gboolean    has_extension)
{
  g_autofree char *suffix = g_strdup_printf (" (%u)", n);
  const char *ext = NULL;
  gsize stem_len;

  if (has_extension)
    {
      ext = strrchr (name, '.');
      if (ext == name)
        ext = NULL;
      if (ext != NULL && ext - name >= 4 && g_ascii_strncasecmp (ext - 4, ".tar", 4) == 0
          && ext - 4 > name)
        ext -= 4;
    }
  if (ext == NULL || strlen (ext) > 32)
    ext = name + strlen (name);

  stem_len = ext - name;
  while (stem_len + strlen (suffix) + strlen (ext) > FERRY_OFFER_MAX_NAME_BYTES)
    {
      const char *prev = g_utf8_find_prev_char (name, name + stem_len);

      stem_len = prev ? (gsize) (prev - name) : 0;
    }

  return g_strdup_printf ("%.*s%s%s", (int) stem_len, name, suffix, ext);
}

/**
 * ferry_receive_target_reserve_folder:
 * @name: an offered top-level folder name
 *
 * Creates a new, empty folder for a top-level folder of an offer: @name if
 * it is free, otherwise "@name (1)", "@name (2)"… An existing folder is
 * never merged into. Remember the result to resume into the same folder.
 *
 * Returns: (transfer full): the name of the folder created
 */
char *
ferry_receive_target_reserve_folder (FerryReceiveTarget  *self,
                                     const char          *name,
                                     GError             **error)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_TARGET (self), NULL);

  if (!check_relative_path (name, error))
    return NULL;
  if (strchr (name, '/') != NULL)
    {
      g_autofree char *escaped = ferry_offer_escape_name (name, -1);

      g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_INVALID_PATH,
                   "“%s” is not a top-level name", escaped);
      return NULL;
    }

  for (guint n = 0; n <= MAX_NUMBERED_NAMES; n++)
    {
      g_autofree char *candidate = n == 0 ? g_strdup (name) : numbered_name (name, n, FALSE);

      if (mkdirat (self->dir_fd, candidate, 0755) == 0)
        {
          if (fsync (self->dir_fd) != 0)
            {
              set_errno_error (error, errno, candidate, "creating");
              return NULL;
            }
          return g_steal_pointer (&candidate);
        }
      if (errno != EEXIST)
        {
          set_errno_error (error, errno, candidate, "creating");
          return NULL;
        }
    }

  set_errno_error (error, EEXIST, name, "creating");
  return NULL;
}

/**
 * ferry_receive_target_keep_partial:
 * @partial_path: a partial file, relative to the target, that another
 *   unfinished transfer may resume
 *
 * Makes this target leave @partial_path alone: no file opened here resumes,
 * truncates or renames it, even while nobody holds its lock; a new file of
 * the same name takes the next partial name instead. Compared without case,
 * as a casefolding file system (exFAT, NTFS) would find it. Call it before
 * opening files.
 */
void
ferry_receive_target_keep_partial (FerryReceiveTarget *self,
                                   const char         *partial_path)
{
  g_return_if_fail (FERRY_IS_RECEIVE_TARGET (self));
  g_return_if_fail (partial_path != NULL);

  g_hash_table_add (self->kept_partials, g_utf8_casefold (partial_path, -1));
}

/**
 * ferry_receive_target_set_own_partial:
 * @local_path: a file's path inside the target
 * @partial_path: the partial file an earlier attempt of the same transfer
 *   wrote for it, relative to the target, as the store recorded it
 *
 * Opening @local_path tries @partial_path first: it may be a later partial
 * name ("NAME~2.ferry-part") when the first one was in use back then.
 * Ignored unless @partial_path is a partial file name in the folder of
 * @local_path.
 */
void
ferry_receive_target_set_own_partial (FerryReceiveTarget *self,
                                      const char         *local_path,
                                      const char         *partial_path)
{
  g_autofree char *folder = NULL;
  g_autofree char *partial_folder = NULL;
  g_autofree char *name = NULL;

  g_return_if_fail (FERRY_IS_RECEIVE_TARGET (self));
  g_return_if_fail (local_path != NULL);
  g_return_if_fail (partial_path != NULL);

  folder = g_path_get_dirname (local_path);
  partial_folder = g_path_get_dirname (partial_path);
  name = g_path_get_basename (partial_path);
  if (strcmp (folder, partial_folder) != 0 || !g_str_has_suffix (name, FERRY_PARTIAL_SUFFIX)
      || strlen (name) > FERRY_OFFER_MAX_NAME_BYTES)
    return;

  g_hash_table_insert (self->own_partials, g_strdup (local_path), g_steal_pointer (&name));
}

static char *
partial_name_for (const char *name,
                  guint       variant)
{
  guint8 digest[8];
  g_autofree char *hex = NULL;
  gsize keep;

  /* A partial another transfer is writing: "NAME~2.ferry-part"… */
  if (variant > 0)
    {
      g_autofree char *other = g_strdup_printf ("%s~%u", name, variant + 1);

      if (strlen (other) + strlen (FERRY_PARTIAL_SUFFIX) <= FERRY_OFFER_MAX_NAME_BYTES)
        return g_strconcat (other, FERRY_PARTIAL_SUFFIX, NULL);
    }
  if (variant == 0 && strlen (name) + strlen (FERRY_PARTIAL_SUFFIX) <= FERRY_OFFER_MAX_NAME_BYTES)
    return g_strconcat (name, FERRY_PARTIAL_SUFFIX, NULL);

  /* Too long with the suffix: keep a prefix and add a hash of the full name
   * so that two long names sharing a prefix get different partial files.
   */
  crypto_generichash (digest, sizeof digest, (const guint8 *) name, strlen (name),
                      (const guint8 *) &variant, sizeof variant);
  hex = g_malloc (2 * sizeof digest + 1);
  sodium_bin2hex (hex, 2 * sizeof digest + 1, digest, sizeof digest);

  keep = FERRY_OFFER_MAX_NAME_BYTES - strlen (FERRY_PARTIAL_SUFFIX) - 1 - strlen (hex);
  while (keep > 0 && (name[keep] & 0xc0) == 0x80)
    keep--;

  return g_strdup_printf ("%.*s~%s%s", (int) keep, name, hex, FERRY_PARTIAL_SUFFIX);
}

void
ferry_receive_file_free (FerryReceiveFile *file)
{
  if (file == NULL)
    return;

  if (file->fd >= 0)
    close (file->fd);
  if (file->dir_fd >= 0)
    close (file->dir_fd);
  g_clear_object (&file->target);
  g_free (file->dir_path);
  g_free (file->name);
  g_free (file->partial_name);
  g_free (file->partial_path);
  g_free (file->content_id);
  g_clear_pointer (&file->hasher, ferry_stream_hasher_free);
  g_free (file);
}

/* Re-reads the kept part of a partial file so the hashes cover it. */
static gboolean
rehash_prefix (FerryReceiveFile  *file,
               GCancellable      *cancellable,
               GError           **error)
{
  g_autofree guint8 *buffer = g_malloc (FERRY_BLOCK_SIZE);
  guint64 done = 0;

  while (done < file->offset)
    {
      gsize want = (gsize) MIN ((guint64) FERRY_BLOCK_SIZE, file->offset - done);
      ssize_t n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;

      n = pread (file->fd, buffer, want, (off_t) done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return set_errno_error (error, errno, file->partial_path, "reading");
      if (n == 0)
        {
          g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_RESUME_MISMATCH,
                       "The partial file “%s” got shorter while resuming", file->name);
          return FALSE;
        }

      ferry_stream_hasher_update (file->hasher, buffer, (gsize) n);
      done += (guint64) n;
    }

  return TRUE;
}

/* Takes the lock every Ferry writer holds on its partial file for the
 * whole transfer, then checks that the name still is this file: another
 * receiver may have finished and renamed it meanwhile. O_NONBLOCK so a
 * FIFO planted under the partial name can't hang us; O_NOFOLLOW so a link
 * there can't send the bytes elsewhere.
 */
static int
open_locked (FerryReceiveFile *file,
             int               flags,
             guint             mode)
{
  struct stat st, named;
  int fd = openat (file->dir_fd, file->partial_name,
                   O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | flags, mode);

  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_nlink != 1)
    {
      close (fd);
      errno = ELOOP;
      return -1;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      close (fd);
      errno = EBUSY;
      return -1;
    }
  if (fstatat (file->dir_fd, file->partial_name, &named, AT_SYMLINK_NOFOLLOW) != 0
      || named.st_dev != st.st_dev || named.st_ino != st.st_ino)
    {
      close (fd);
      errno = EBUSY;
      return -1;
    }
  return fd;
}

/* The @i-th partial name to try for @file: the one an earlier attempt of
 * this transfer wrote (@own), if any, then "NAME.ferry-part",
 * "NAME~2.ferry-part"…
 */
static char *
candidate_partial_name (FerryReceiveFile *file,
                        const char       *own,
                        guint             i)
{
  if (own != NULL)
    {
      if (i == 0)
        return g_strdup (own);
      i--;
    }
  return partial_name_for (file->name, i);
}

/* Whether another unfinished transfer may resume the current partial name. */
static gboolean
partial_is_kept (FerryReceiveFile *file)
{
  g_autofree char *path = ferry_receive_file_dup_partial_local_path (file);
  g_autofree char *key = g_utf8_casefold (path, -1);

  return g_hash_table_contains (file->target->kept_partials, key);
}

/* Partial files are exclusive. A resumed one is the one this transfer
 * wrote before, and only while no other receiver holds it. A fresh one is
 * created with O_EXCL; when the name exists, a partial nobody holds and no
 * other transfer may resume is a leftover and starts over; one another
 * receiver holds, or another transfer may resume, is left alone and this
 * file takes the next partial name. Either way the lock is held until the
 * file is renamed into place, so no other Ferry can write to it.
 */
static gboolean
open_partial (FerryReceiveFile  *file,
              guint              mode,
              guint64            resume_offset,
              const char        *local_path,
              GError           **error)
{
  const char *own = g_hash_table_lookup (file->target->own_partials, local_path);

  for (guint i = 0; i <= MAX_NUMBERED_NAMES + 1; i++)
    {
      g_clear_pointer (&file->partial_name, g_free);
      file->partial_name = candidate_partial_name (file, own, i);

      if (resume_offset > 0)
        {
          g_autofree char *escaped = NULL;

          if (!partial_is_kept (file))
            {
              file->fd = open_locked (file, 0, 0);
              if (file->fd >= 0)
                return TRUE;
              if (errno != EBUSY && errno != ENOENT)
                return set_errno_error (error, errno, local_path, "writing");
            }
          escaped = ferry_offer_escape_name (local_path, -1);
          g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_RESUME_MISMATCH,
                       "The partial file for “%s” is gone or in use; it must start over",
                       escaped);
          return FALSE;
        }

      if (partial_is_kept (file))
        continue;
      file->fd = open_locked (file, O_CREAT | O_EXCL, mode);
      if (file->fd < 0 && errno == EEXIST)
        file->fd = open_locked (file, 0, 0);
      if (file->fd >= 0)
        {
          if (ftruncate (file->fd, 0) != 0)
            return set_errno_error (error, errno, local_path, "writing");
          return TRUE;
        }
      if (errno != EBUSY && errno != ENOENT)
        return set_errno_error (error, errno, local_path, "writing");
    }

  return set_errno_error (error, EEXIST, local_path, "writing");
}

/**
 * ferry_receive_target_open_file:
 * @entry: the offered file
 * @local_path: (nullable): where it goes inside the target, if not at the
 *   offered path (for example below a reserved "NAME (1)" folder)
 * @resume_offset: 0 to start over, or the end of the last verified block:
 *   a multiple of FERRY_BLOCK_SIZE, or the file's size
 * @cancellable: (nullable): checked while re-reading a partial file
 *
 * Opens (creating folders as needed) the partial file for @entry. With a
 * resume offset, the partial file's first @resume_offset bytes are kept and
 * re-read into the hashes, anything after them is cut off.
 *
 * Returns: (transfer full): the file to write to, or %NULL with @error set
 */
FerryReceiveFile *
ferry_receive_target_open_file (FerryReceiveTarget     *self,
                                const FerryOfferEntry  *entry,
                                const char             *local_path,
                                guint64                 resume_offset,
                                GCancellable           *cancellable,
                                GError                **error)
{
  g_autoptr(FerryReceiveFile) file = NULL;
  g_auto(GStrv) components = NULL;
  g_autofree char *folder_path = NULL;
  guint n;
  struct stat st;

  g_return_val_if_fail (FERRY_IS_RECEIVE_TARGET (self), NULL);
  g_return_val_if_fail (entry != NULL, NULL);
  g_return_val_if_fail (ferry_offer_entry_get_kind (entry) == FERRY_OFFER_ENTRY_FILE, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (local_path == NULL)
    local_path = ferry_offer_entry_get_path (entry);
  if (!check_relative_path (local_path, error))
    return NULL;

  if (resume_offset > ferry_offer_entry_get_size (entry)
      || (resume_offset % FERRY_BLOCK_SIZE != 0
          && resume_offset != ferry_offer_entry_get_size (entry)))
    {
      g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_RESUME_MISMATCH,
                   "Can't resume “%s” at byte %" G_GUINT64_FORMAT, local_path, resume_offset);
      return NULL;
    }

  file = g_new0 (FerryReceiveFile, 1);
  file->fd = -1;
  file->dir_fd = -1;
  file->target = g_object_ref (self);
  file->size = ferry_offer_entry_get_size (entry);
  file->mtime = ferry_offer_entry_get_mtime (entry);
  file->content_id = g_strdup (ferry_offer_entry_get_content_id (entry));
  file->hasher = ferry_stream_hasher_new ();

  components = g_strsplit (local_path, "/", -1);
  n = g_strv_length (components);
  file->name = g_strdup (components[n - 1]);
  file->dir_path = g_strdup (local_path);
  file->dir_path[strlen (local_path) - strlen (file->name)] = '\0';
  file->dir_fd = open_folders (self, components, n - 1, local_path, error);
  if (file->dir_fd < 0)
    return NULL;

  if (!open_partial (file, ferry_offer_entry_get_mode (entry), resume_offset, local_path,
                     error))
    return NULL;
  folder_path = g_file_get_path (self->folder);
  file->partial_path = g_build_filename (folder_path, file->dir_path, file->partial_name, NULL);

  if (fstat (file->fd, &st) != 0)
    {
      set_errno_error (error, errno, local_path, "writing");
      return NULL;
    }

  if ((guint64) st.st_size < resume_offset)
    {
      g_autofree char *escaped = ferry_offer_escape_name (local_path, -1);

      g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_RESUME_MISMATCH,
                   "The partial file for “%s” is shorter than expected; it must start over",
                   escaped);
      return NULL;
    }

  /* Bytes after the last verified block are not trusted: drop them. */
  if ((guint64) st.st_size != resume_offset
      && ftruncate (file->fd, (off_t) resume_offset) != 0)
    {
      set_errno_error (error, errno, local_path, "writing");
      return NULL;
    }

  file->offset = resume_offset;
  if (!rehash_prefix (file, cancellable, error))
    return NULL;

  return g_steal_pointer (&file);
}

/**
 * ferry_receive_file_write:
 *
 * Appends @data at the current offset. On a full disk the bytes that fit are
 * kept, the offset counts them, and FERRY_RECEIVE_ERROR_NO_SPACE is
 * returned: the partial file stays for a later resume.
 */
gboolean
ferry_receive_file_write (FerryReceiveFile  *file,
                          const guint8      *data,
                          gsize              len,
                          GError           **error)
{
  g_return_val_if_fail (file != NULL, FALSE);
  g_return_val_if_fail (file->fd >= 0, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (len > file->size - file->offset)
    {
      g_autofree char *escaped = ferry_offer_escape_name (file->name, -1);

      g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_TOO_MUCH_DATA,
                   "More data arrived for “%s” than was offered", escaped);
      return FALSE;
    }

  while (len > 0)
    {
      ssize_t n = pwrite (file->fd, data, len, (off_t) file->offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return set_errno_error (error, errno, file->name, "writing");

      ferry_stream_hasher_update (file->hasher, data, (gsize) n);
      file->offset += (guint64) n;
      data += n;
      len -= (gsize) n;
    }

  return TRUE;
}

/**
 * ferry_receive_file_sync:
 *
 * Makes the bytes written so far durable. Call it before recording blocks
 * as verified in the store, so that a crash never leaves the store claiming
 * blocks the disk lost.
 */
gboolean
ferry_receive_file_sync (FerryReceiveFile  *file,
                         GError           **error)
{
  g_return_val_if_fail (file != NULL, FALSE);
  g_return_val_if_fail (file->fd >= 0, FALSE);

  if (fdatasync (file->fd) != 0)
    return set_errno_error (error, errno, file->name, "writing");

  return TRUE;
}

guint64
ferry_receive_file_get_offset (FerryReceiveFile *file)
{
  g_return_val_if_fail (file != NULL, 0);

  return file->offset;
}

/**
 * ferry_receive_file_get_n_complete_blocks:
 *
 * Returns: how many whole FERRY_BLOCK_SIZE blocks were written (or re-read
 *   when resuming); compare their hashes with the sender's before recording
 *   them as verified
 */
guint
ferry_receive_file_get_n_complete_blocks (FerryReceiveFile *file)
{
  g_return_val_if_fail (file != NULL, 0);

  return ferry_stream_hasher_get_n_complete_blocks (file->hasher);
}

const guint8 *
ferry_receive_file_get_block_hash (FerryReceiveFile *file,
                                   guint             index)
{
  g_return_val_if_fail (file != NULL, NULL);

  return ferry_stream_hasher_get_block_hash (file->hasher, index);
}

/**
 * ferry_receive_file_get_partial_path:
 *
 * Returns: the absolute path of the partial file, for display
 */
const char *
ferry_receive_file_get_partial_path (FerryReceiveFile *file)
{
  g_return_val_if_fail (file != NULL, NULL);

  return file->partial_path;
}

/**
 * ferry_receive_file_dup_partial_local_path:
 *
 * Returns: (transfer full): the partial file's path relative to the target,
 *   for the store: a resume reopens this very file (see
 *   ferry_receive_target_set_own_partial()) and other transfers leave it
 *   alone (ferry_receive_target_keep_partial())
 */
char *
ferry_receive_file_dup_partial_local_path (FerryReceiveFile *file)
{
  g_return_val_if_fail (file != NULL, NULL);

  return g_strconcat (file->dir_path, file->partial_name, NULL);
}

/* Moves the partial file to @final without ever replacing what is there. */
static int
rename_no_replace (int         dir_fd,
                   const char *from,
                   const char *to)
{
  struct stat st;

  if (renameat2 (dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return -1;

  /* Filesystems without RENAME_NOREPLACE: a hard link fails on an existing
   * name just the same.
   */
  if (linkat (dir_fd, from, dir_fd, to, 0) == 0)
    return unlinkat (dir_fd, from, 0);
  if (errno == EEXIST)
    return -1;

  /* No hard links either (FAT): check, then rename. Not atomic, but such
   * filesystems offer nothing better.
   */
  if (fstatat (dir_fd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      errno = EEXIST;
      return -1;
    }
  return renameat (dir_fd, from, dir_fd, to);
}

/* The guarantee that the bytes renamed into place are the ones verified:
 * every Ferry writer holds the partial's lock (see open_partial()), we
 * still hold it, and the name still is our file with exactly the bytes we
 * wrote and hashed.
 */
static gboolean
partial_is_ours (FerryReceiveFile *file)
{
  struct stat st, named;

  return fstat (file->fd, &st) == 0
         && fstatat (file->dir_fd, file->partial_name, &named, AT_SYMLINK_NOFOLLOW) == 0
         && named.st_dev == st.st_dev && named.st_ino == st.st_ino
         && st.st_nlink == 1 && (guint64) st.st_size == file->size;
}

/**
 * ferry_receive_file_finish:
 *
 * Checks that all offered bytes arrived and that their BLAKE2b is the
 * offered content id, makes the file durable, sets its modification time
 * and renames it into place (numbering it if the name is taken).
 *
 * On a size or hash mismatch nothing is renamed and the partial file stays;
 * call ferry_receive_file_discard() to remove it.
 *
 * Returns: (transfer full): the file's final path relative to the target,
 *   or %NULL with @error set
 */
char *
ferry_receive_file_finish (FerryReceiveFile  *file,
                           GError           **error)
{
  g_autoptr(FerryFileDigest) digest = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *hex = NULL;
  struct timespec times[2];

  g_return_val_if_fail (file != NULL, NULL);
  g_return_val_if_fail (file->fd >= 0, NULL);

  escaped = ferry_offer_escape_name (file->name, -1);

  if (file->offset != file->size)
    {
      g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_SIZE_MISMATCH,
                   "“%s” ended after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
                   escaped, file->offset, file->size);
      return NULL;
    }

  /* Finishing consumes the hasher; keep a fresh one so a failed finish can
   * be followed by discard without surprises.
   */
  digest = ferry_stream_hasher_finish (file->hasher);
  ferry_stream_hasher_free (file->hasher);
  file->hasher = ferry_stream_hasher_new ();

  hex = ferry_file_digest_dup_content_id_hex (digest);
  if (g_strcmp0 (hex, file->content_id) != 0)
    {
      g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_HASH_MISMATCH,
                   "“%s” arrived damaged: its contents do not match what was offered",
                   escaped);
      return NULL;
    }

  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = (time_t) file->mtime;
  times[1].tv_nsec = 0;
  if (futimens (file->fd, times) != 0)
    g_debug ("Could not set the time of %s: %s", file->partial_path, g_strerror (errno));

  if (fsync (file->fd) != 0)
    {
      set_errno_error (error, errno, file->name, "writing");
      return NULL;
    }

  if (!partial_is_ours (file))
    {
      g_set_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_FAILED,
                   "The partial file of “%s” was replaced while it was received", escaped);
      return NULL;
    }

  for (guint n = 0; n <= MAX_NUMBERED_NAMES; n++)
    {
      g_autofree char *candidate = n == 0 ? g_strdup (file->name)
                                          : numbered_name (file->name, n, TRUE);

      if (rename_no_replace (file->dir_fd, file->partial_name, candidate) == 0)
        {
          /* The rename is only durable once the folder is synced. */
          if (fsync (file->dir_fd) != 0)
            {
              set_errno_error (error, errno, candidate, "writing");
              return NULL;
            }
          close (file->fd);
          file->fd = -1;
          return g_strconcat (file->dir_path, candidate, NULL);
        }
      if (errno != EEXIST)
        {
          set_errno_error (error, errno, file->name, "renaming");
          return NULL;
        }
    }

  set_errno_error (error, EEXIST, file->name, "renaming");
  return NULL;
}

/**
 * ferry_receive_file_set_content_id:
 * @content_id: (nullable): the digest the file must have, 64 hex digits
 *
 * Sets what ferry_receive_file_finish() checks the file against, for a
 * digest that arrives after the data; %NULL matches nothing.
 */
void
ferry_receive_file_set_content_id (FerryReceiveFile *file,
                                   const char       *content_id)
{
  g_return_if_fail (file != NULL);

  g_free (file->content_id);
  file->content_id = g_strdup (content_id);
}

/**
 * ferry_receive_file_discard:
 *
 * Removes the partial file, for a file that will not be resumed.
 */
gboolean
ferry_receive_file_discard (FerryReceiveFile  *file,
                            GError           **error)
{
  g_return_val_if_fail (file != NULL, FALSE);
  g_return_val_if_fail (file->fd >= 0, FALSE);

  close (file->fd);
  file->fd = -1;

  if (unlinkat (file->dir_fd, file->partial_name, 0) != 0 && errno != ENOENT)
    return set_errno_error (error, errno, file->name, "removing");

  return TRUE;
}
