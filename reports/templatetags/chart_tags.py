"""``{% chart_svg chart "id" %}``: a report chart (``reports.charts.Chart``) as inline SVG.

The markup is in the Jinja2 templates ``reports/jinja2/reports/charts/<kind>.svg`` (rendered
through ``crm.jinja2.render``): a chart is a few hundred shapes and labels, which the Django
template language took 1–4 ms to write on every report page and on the company page.
Numbers print as Python writes them (a dot, no grouping), as SVG coordinates must.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from crm.jinja2 import render
from reports.charts import Chart

register = template.Library()


@register.simple_tag
def chart_svg(chart: Chart, chart_id: str) -> SafeString:
    return render(chart.template_name, {"chart": chart, "id": chart_id})
