/* ferry-offer-model.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-offer-model"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ferry-names.h"
#include "ferry-offer-model.h"

/**
 * FerryOfferModel:
 *
 * An offer as the pages show it: a #GListModel of its top-level items
 * (#FerryOfferItem) in the order they were offered, and what a receiver
 * should know before accepting — hidden files, programs, a great many
 * files.
 */
struct _FerryOfferModel
{
  GObject     parent_instance;

  FerryOffer *offer;
  GPtrArray  *items;
  guint       n_hidden;
  guint       n_programs;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FerryOfferModel, ferry_offer_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
list_model_get_item_type (GListModel *model)
{
  return FERRY_TYPE_OFFER_ITEM;
}

static guint
list_model_get_n_items (GListModel *model)
{
  return FERRY_OFFER_MODEL (model)->items->len;
}

static gpointer
list_model_get_item (GListModel *model,
                     guint       position)
{
  FerryOfferModel *self = FERRY_OFFER_MODEL (model);

  if (position >= self->items->len)
    return NULL;

  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = list_model_get_item_type;
  iface->get_n_items = list_model_get_n_items;
  iface->get_item = list_model_get_item;
}

static void
ferry_offer_model_finalize (GObject *object)
{
  FerryOfferModel *self = FERRY_OFFER_MODEL (object);

  g_clear_object (&self->offer);
  g_clear_pointer (&self->items, g_ptr_array_unref);

  G_OBJECT_CLASS (ferry_offer_model_parent_class)->finalize (object);
}

static void
ferry_offer_model_class_init (FerryOfferModelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ferry_offer_model_finalize;
}

static void
ferry_offer_model_init (FerryOfferModel *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * ferry_offer_model_new:
 *
 * Groups @offer's entries by their first path component. An offer holds
 * up to 100 000 entries, so this is one pass with a hash table.
 */
FerryOfferModel *
ferry_offer_model_new (FerryOffer *offer)
{
  g_autoptr(GHashTable) by_name = NULL;
  FerryOfferModel *self;
  guint n;

  g_return_val_if_fail (FERRY_IS_OFFER (offer), NULL);

  self = g_object_new (FERRY_TYPE_OFFER_MODEL, NULL);
  self->offer = g_object_ref (offer);
  by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  n = ferry_offer_get_n_entries (offer);
  for (guint i = 0; i < n; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);
      const char *path = ferry_offer_entry_get_path (entry);
      const char *slash = strchr (path, '/');
      g_autofree char *name = slash != NULL ? g_strndup (path, (gsize) (slash - path))
                                            : g_strdup (path);
      FerryOfferItem *item = g_hash_table_lookup (by_name, name);

      if (item == NULL)
        {
          item = ferry_offer_item_new (offer, name);
          g_ptr_array_add (self->items, item);
          g_hash_table_insert (by_name, g_steal_pointer (&name), item);
        }
      ferry_offer_item_add_entry (item, i);

      if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FILE)
        continue;
      if (ferry_offer_entry_is_hidden (entry))
        self->n_hidden++;
      if (ferry_offer_entry_is_program (entry))
        self->n_programs++;
    }

  return self;
}

/**
 * ferry_offer_model_get_offer:
 *
 * Returns: (transfer none): the offer
 */
FerryOffer *
ferry_offer_model_get_offer (FerryOfferModel *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_MODEL (self), NULL);

  return self->offer;
}

/**
 * ferry_offer_model_get_n_hidden:
 *
 * Returns: files with a name, or inside a folder, starting with a dot
 */
guint
ferry_offer_model_get_n_hidden (FerryOfferModel *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_MODEL (self), 0);

  return self->n_hidden;
}

/**
 * ferry_offer_model_get_n_programs:
 *
 * Returns: files marked executable or named like something a desktop runs
 */
guint
ferry_offer_model_get_n_programs (FerryOfferModel *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_MODEL (self), 0);

  return self->n_programs;
}

/**
 * ferry_offer_model_dup_names:
 * @max_shown: how many top-level names to spell out
 *
 * Returns: (transfer full): e.g. "Holiday, notes.txt and 3 more", escaped
 */
char *
ferry_offer_model_dup_names (FerryOfferModel *self,
                             guint            max_shown)
{
  g_autofree const char **names = NULL;

  g_return_val_if_fail (FERRY_IS_OFFER_MODEL (self), NULL);

  names = g_new0 (const char *, self->items->len + 1);
  for (guint i = 0; i < self->items->len; i++)
    names[i] = ferry_offer_item_get_name (g_ptr_array_index (self->items, i));

  return ferry_names_join (names, self->items->len, max_shown);
}

/**
 * ferry_offer_model_dup_summary:
 *
 * Returns: (transfer full): e.g. "12 files · 3.4 MB"
 */
char *
ferry_offer_model_dup_summary (FerryOfferModel *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_MODEL (self), NULL);

  return ferry_names_format_size (ferry_offer_get_n_files (self->offer),
                                  ferry_offer_get_total_size (self->offer));
}

/**
 * ferry_offer_model_dup_notice:
 *
 * What a receiver should see before accepting: "Includes 3 hidden files
 * and 1 program". Hidden files do not show in Files once saved, programs
 * may run when opened, and thousands of files are more than one expects
 * from a short list.
 *
 * Returns: (transfer full) (nullable): the sentence, or %NULL when there
 *   is nothing to point out
 */
char *
ferry_offer_model_dup_notice (FerryOfferModel *self)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  guint n_files;

  g_return_val_if_fail (FERRY_IS_OFFER_MODEL (self), NULL);

  n_files = ferry_offer_get_n_files (self->offer);
  if (n_files >= FERRY_OFFER_MODEL_MANY_FILES)
    g_ptr_array_add (parts, g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'u file",
                                                          "%'u files", n_files),
                                             n_files));
  if (self->n_hidden > 0)
    g_ptr_array_add (parts, g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'u hidden file",
                                                          "%'u hidden files", self->n_hidden),
                                             self->n_hidden));
  if (self->n_programs > 0)
    g_ptr_array_add (parts, g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'u program",
                                                          "%'u programs", self->n_programs),
                                             self->n_programs));

  switch (parts->len)
    {
    case 0:
      return NULL;
    case 1:
      /* Translators: e.g. “Includes 3 hidden files” */
      return g_strdup_printf (_("Includes %s"), (char *) parts->pdata[0]);
    case 2:
      /* Translators: e.g. “Includes 3 hidden files and 1 program” */
      return g_strdup_printf (_("Includes %s and %s"), (char *) parts->pdata[0],
                              (char *) parts->pdata[1]);
    default:
      /* Translators: e.g. “Includes 5,000 files, 3 hidden files and 1 program” */
      return g_strdup_printf (_("Includes %s, %s and %s"), (char *) parts->pdata[0],
                              (char *) parts->pdata[1], (char *) parts->pdata[2]);
    }
}

/**
 * ferry_offer_model_find_local_file:
 * @file: a file or folder the sender chose
 *
 * Returns: (transfer none) (nullable): the item made from @file
 */
FerryOfferItem *
ferry_offer_model_find_local_file (FerryOfferModel *self,
                                   GFile           *file)
{
  g_return_val_if_fail (FERRY_IS_OFFER_MODEL (self), NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  for (guint i = 0; i < self->items->len; i++)
    {
      FerryOfferItem *item = g_ptr_array_index (self->items, i);
      GFile *local = ferry_offer_item_get_local_file (item);

      if (local != NULL && g_file_equal (local, file))
        return item;
    }

  return NULL;
}
