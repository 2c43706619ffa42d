/* ferry-error-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-error-page"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-error-page.h"
#include "ferry-error.h"

/**
 * FerryErrorPage:
 *
 * How a send or a receive ends when it fails: a headline, the sentence
 * that explains it, a button to try again (its label and action set by
 * the page that shows it) and Copy Details for a bug report.
 */
struct _FerryErrorPage
{
  AdwBin         parent_instance;

  AdwStatusPage *status_page;
  GtkButton     *retry_button;
  GError        *error;
};

G_DEFINE_FINAL_TYPE (FerryErrorPage, ferry_error_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_RETRY_LABEL,
  PROP_RETRY_ACTION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

void
ferry_error_page_set_error (FerryErrorPage *self,
                            const GError   *error)
{
  g_autofree char *title = NULL;
  g_autofree char *description = NULL;

  g_return_if_fail (FERRY_IS_ERROR_PAGE (self));
  g_return_if_fail (error != NULL);

  g_clear_error (&self->error);
  self->error = g_error_copy (error);

  title = ferry_error_dup_title (error);
  description = ferry_error_dup_description (error);
  adw_status_page_set_title (self->status_page, title);
  adw_status_page_set_description (self->status_page, description);
}

const char *
ferry_error_page_get_title (FerryErrorPage *self)
{
  g_return_val_if_fail (FERRY_IS_ERROR_PAGE (self), NULL);

  return adw_status_page_get_title (self->status_page);
}

static void
copy_details_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  FerryErrorPage *self = FERRY_ERROR_PAGE (widget);
  g_autofree char *details = NULL;

  if (self->error == NULL)
    return;

  details = ferry_error_dup_details (self->error);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), details);
}

static void
ferry_error_page_finalize (GObject *object)
{
  FerryErrorPage *self = FERRY_ERROR_PAGE (object);

  g_clear_error (&self->error);

  G_OBJECT_CLASS (ferry_error_page_parent_class)->finalize (object);
}

static void
ferry_error_page_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  FerryErrorPage *self = FERRY_ERROR_PAGE (object);

  switch (prop_id)
    {
    case PROP_RETRY_LABEL:
      g_value_set_string (value, gtk_button_get_label (self->retry_button));
      break;

    case PROP_RETRY_ACTION:
      g_value_set_string (value, gtk_actionable_get_action_name (GTK_ACTIONABLE (self->retry_button)));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_error_page_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  FerryErrorPage *self = FERRY_ERROR_PAGE (object);

  switch (prop_id)
    {
    case PROP_RETRY_LABEL:
      gtk_button_set_label (self->retry_button, g_value_get_string (value));
      break;

    case PROP_RETRY_ACTION:
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->retry_button),
                                      g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_error_page_class_init (FerryErrorPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = ferry_error_page_finalize;
  object_class->get_property = ferry_error_page_get_property;
  object_class->set_property = ferry_error_page_set_property;

  properties[PROP_RETRY_LABEL] =
    g_param_spec_string ("retry-label", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  properties[PROP_RETRY_ACTION] =
    g_param_spec_string ("retry-action", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-error-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryErrorPage, status_page);
  gtk_widget_class_bind_template_child (widget_class, FerryErrorPage, retry_button);

  gtk_widget_class_install_action (widget_class, "error.copy-details", NULL,
                                   copy_details_action);
}

static void
ferry_error_page_init (FerryErrorPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
