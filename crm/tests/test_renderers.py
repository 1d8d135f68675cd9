"""The form renderer: Jinja2 widget templates, with the template language as the fallback."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.forms.renderers import get_default_renderer
from django.template.backends.django import Template as DjangoTemplate
from django.template.backends.jinja2 import Template as Jinja2Template

from crm.models import User


def test_built_in_widgets_render_with_jinja2_and_escape_their_values():
    renderer = get_default_renderer()
    assert isinstance(renderer.get_template("django/forms/widgets/select.html"), Jinja2Template)

    class Filter(forms.Form):
        status = forms.ChoiceField(choices=[("open", "Open <now>"), ("closed", "Closed")])
        q = forms.CharField()

    html = str(Filter({"status": "closed", "q": '"><script>x</script>'}))
    assert '<option value="closed" selected>Closed</option>' in html
    assert "Open &lt;now&gt;" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<label for="id_q">' in html


@pytest.mark.django_db
def test_the_admins_own_widgets_fall_back_to_the_template_language():
    renderer = get_default_renderer()
    assert isinstance(renderer.get_template("admin/widgets/foreign_key_raw_id.html"), DjangoTemplate)
    from django.contrib import admin

    from contacts.models import Contact

    widget = ForeignKeyRawIdWidget(Contact._meta.get_field("owner").remote_field, admin.site)
    user = User.objects.create_user("raw-id-owner")
    html = widget.render("owner", user.pk, renderer=renderer)
    assert f'value="{user.pk}"' in html and "related-lookup" in html
