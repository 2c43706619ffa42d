/* ferry-offer-item.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-offer-item"

#include "config.h"

#include <string.h>

#include "ferry-names.h"
#include "ferry-offer-item.h"

/**
 * FerryOfferItem:
 *
 * One top-level item of an offer, as a person chose it: a file, or a
 * folder with everything in it. A folder of 5,000 files is one item with
 * its file count and size; its entries are listed only when asked for.
 *
 * Names come from the other side: every name this class hands out for
 * display is escaped with ferry_offer_escape_name().
 */
struct _FerryOfferItem
{
  GObject     parent_instance;

  FerryOffer *offer;
  char       *name;
  GArray     *children;    /* guint: indices into the offer, below the item */
  GFile      *local_file;
  guint64     size;
  guint       n_files;
  gboolean    folder;
};

G_DEFINE_FINAL_TYPE (FerryOfferItem, ferry_offer_item, G_TYPE_OBJECT)

static void
ferry_offer_item_finalize (GObject *object)
{
  FerryOfferItem *self = FERRY_OFFER_ITEM (object);

  g_clear_object (&self->offer);
  g_clear_object (&self->local_file);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->children, g_array_unref);

  G_OBJECT_CLASS (ferry_offer_item_parent_class)->finalize (object);
}

static void
ferry_offer_item_class_init (FerryOfferItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ferry_offer_item_finalize;
}

static void
ferry_offer_item_init (FerryOfferItem *self)
{
  self->children = g_array_new (FALSE, FALSE, sizeof (guint));
}

/**
 * ferry_offer_item_new:
 * @name: the first component of the item's entries
 *
 * An empty item; ferry_offer_item_add_entry() fills it.
 */
FerryOfferItem *
ferry_offer_item_new (FerryOffer *offer,
                      const char *name)
{
  FerryOfferItem *self;

  g_return_val_if_fail (FERRY_IS_OFFER (offer), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  self = g_object_new (FERRY_TYPE_OFFER_ITEM, NULL);
  self->offer = g_object_ref (offer);
  self->name = g_strdup (name);

  return self;
}

/**
 * ferry_offer_item_add_entry:
 * @index: an entry of the offer whose first path component is the item's name
 *
 * Counts the entry into the item: the item itself, or something inside it.
 */
void
ferry_offer_item_add_entry (FerryOfferItem *self,
                            guint           index)
{
  const FerryOfferEntry *entry;
  const char *path;
  gboolean is_file;

  g_return_if_fail (FERRY_IS_OFFER_ITEM (self));

  entry = ferry_offer_get_entry (self->offer, index);
  g_return_if_fail (entry != NULL);

  path = ferry_offer_entry_get_path (entry);
  is_file = ferry_offer_entry_get_kind (entry) == FERRY_OFFER_ENTRY_FILE;

  if (is_file)
    {
      self->n_files++;
      self->size += ferry_offer_entry_get_size (entry);
    }

  if (strchr (path, '/') == NULL)
    {
      self->folder = !is_file;
      g_set_object (&self->local_file, ferry_offer_entry_get_local_file (entry));
      return;
    }

  /* Something below it: the item is a folder, listed or not. */
  self->folder = TRUE;
  g_array_append_val (self->children, index);
}

/**
 * ferry_offer_item_get_name:
 *
 * Returns: the name as offered: for comparing, never for showing
 */
const char *
ferry_offer_item_get_name (FerryOfferItem *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), NULL);

  return self->name;
}

/**
 * ferry_offer_item_dup_display_name:
 *
 * Returns: (transfer full): the name with control, invisible and
 *   direction-changing characters escaped
 */
char *
ferry_offer_item_dup_display_name (FerryOfferItem *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), NULL);

  return ferry_offer_escape_name (self->name, -1);
}

gboolean
ferry_offer_item_is_folder (FerryOfferItem *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), FALSE);

  return self->folder;
}

guint
ferry_offer_item_get_n_files (FerryOfferItem *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), 0);

  return self->n_files;
}

guint64
ferry_offer_item_get_size (FerryOfferItem *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), 0);

  return self->size;
}

/**
 * ferry_offer_item_get_local_file:
 *
 * Returns: (transfer none) (nullable): on the sending side, the file or
 *   folder the person chose
 */
GFile *
ferry_offer_item_get_local_file (FerryOfferItem *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), NULL);

  return self->local_file;
}

/**
 * ferry_offer_item_dup_summary:
 *
 * Returns: (transfer full): "2.3 GB" for a file, "1,234 files · 2.3 GB"
 *   for a folder
 */
char *
ferry_offer_item_dup_summary (FerryOfferItem *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), NULL);

  if (!self->folder)
    return g_format_size (self->size);

  return ferry_names_format_size (self->n_files, self->size);
}

/**
 * ferry_offer_item_get_n_children:
 *
 * Returns: how many entries are inside the item (0 for a file)
 */
guint
ferry_offer_item_get_n_children (FerryOfferItem *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), 0);

  return self->children->len;
}

const FerryOfferEntry *
ferry_offer_item_get_child (FerryOfferItem *self,
                            guint           index)
{
  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), NULL);
  g_return_val_if_fail (index < self->children->len, NULL);

  return ferry_offer_get_entry (self->offer, g_array_index (self->children, guint, index));
}

/**
 * ferry_offer_item_dup_child_display_path:
 *
 * Returns: (transfer full): where child @index lies inside the item, e.g.
 *   "photos/cat.jpg" in "Holiday", escaped
 */
char *
ferry_offer_item_dup_child_display_path (FerryOfferItem *self,
                                         guint           index)
{
  const FerryOfferEntry *entry;
  const char *path;

  g_return_val_if_fail (FERRY_IS_OFFER_ITEM (self), NULL);
  g_return_val_if_fail (index < self->children->len, NULL);

  entry = ferry_offer_item_get_child (self, index);
  path = ferry_offer_entry_get_path (entry) + strlen (self->name) + 1;

  return ferry_offer_escape_name (path, -1);
}
