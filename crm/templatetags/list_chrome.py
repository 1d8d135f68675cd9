"""What every list page has around its table, rendered by Jinja2 (``crm/jinja2/crm/``): the
saved-views bar and the pagination links. The bar's ~60 tags and lookups through the Django
template language cost ~0.5 ms of each list page, in Jinja2 a fifth of that. The list pages
written in Jinja2 call the ``*_html`` functions; Django templates use the tags."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from crm.jinja2 import render
from crm.saved_views import ListState

register = template.Library()


@register.simple_tag(takes_context=True)
def saved_views_bar(context: template.Context) -> SafeString:
    """The saved-views bar of the list: the views menu, the columns chooser and "Save view"
    (``views``: the page's crm.saved_views.ListState)."""
    return saved_views_html(context["request"], context["views"], csrf_token=str(context.get("csrf_token", "")))


def list_page_context(context: template.Context) -> dict[str, Any]:
    """What a list page written in Jinja2 starts from: the view's context (flattened), the
    CSRF token, the URL to come back to and the saved-views bar."""
    request = context["request"]
    page_context = context.flatten()
    csrf_token = str(page_context.get("csrf_token", ""))
    return {
        **page_context,
        "csrf_token": csrf_token,
        "next": request.get_full_path(),
        "saved_views_bar": saved_views_html(request, page_context["views"], csrf_token=csrf_token),
    }


def saved_views_html(request: HttpRequest, views: ListState, *, csrf_token: str) -> SafeString:
    """The saved-views bar for ``views`` (a list page's crm.saved_views.ListState)."""
    return render(
        "crm/saved_views.html",
        {"views": views, "csrf_token": csrf_token, "next": request.get_full_path(), "user_id": request.user.pk},
    )


@register.simple_tag
def keyset_pagination(page: Any, page_query: str) -> SafeString:
    """Previous / Next links of a keyset-paged list (``page``: a ``contacts.keyset.KeysetPage``),
    keeping ``page_query`` (filters, sort)."""
    return render("crm/keyset_pagination.html", {"page": page, "page_query": page_query})


def pagination_html(page: Any, querystring: str) -> SafeString:
    """Previous / Next links of a numbered list page (a ``django.core.paginator.Page``)."""
    position = gettext("Page %(n)s of %(total)s") % {"n": page.number, "total": page.paginator.num_pages}
    return render("crm/pagination.html", {"page": page, "querystring": querystring, "position": position})


@register.simple_tag
def pagination(page: Any, querystring: str = "") -> SafeString:
    return pagination_html(page, querystring)
