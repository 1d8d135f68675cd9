from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("funnel/", views.funnel, name="funnel"),
    path("funnel.csv", views.funnel_csv, name="funnel-csv"),
    path("forecast/", views.forecast, name="forecast"),
    path("forecast.csv", views.forecast_csv, name="forecast-csv"),
    path("forecast/accuracy/", views.accuracy, name="accuracy"),
    path("forecast/accuracy.csv", views.accuracy_csv, name="accuracy-csv"),
    path("win-loss/", views.winloss, name="winloss"),
    path("win-loss.csv", views.winloss_csv, name="winloss-csv"),
    path("velocity/", views.velocity, name="velocity"),
    path("velocity.csv", views.velocity_csv, name="velocity-csv"),
    path("activity/", views.activity, name="activity"),
    path("activity.csv", views.activity_csv, name="activity-csv"),
    path("service/", views.service, name="service"),
    path("service.csv", views.service_csv, name="service-csv"),
    path("customers/", views.customer_value, name="customer-value"),
    path("customers.csv", views.customer_value_csv, name="customer-value-csv"),
    path("customers/top/", views.top_customers, name="top-customers"),
    path("customers/top.csv", views.top_customers_csv, name="top-customers-csv"),
    path("customers/cohorts/", views.cohorts, name="cohorts"),
    path("customers/cohorts.csv", views.cohorts_csv, name="cohorts-csv"),
    path("customers/dormant/", views.dormant, name="dormant"),
    path("customers/dormant.csv", views.dormant_csv, name="dormant-csv"),
    path("customers/cross-sell/", views.cross_sell, name="cross-sell"),
    path("customers/cross-sell.csv", views.cross_sell_csv, name="cross-sell-csv"),
    path("customers/profitability/", views.profitability, name="profitability"),
    path("customers/profitability.csv", views.profitability_csv, name="profitability-csv"),
    path("customers/profitability.xlsx", views.profitability_xlsx, name="profitability-xlsx"),
    path("customers/recompute/", views.value_recompute, name="value-recompute"),
    path("rebuild/", views.rebuild, name="rebuild"),
    path("subscriptions/<int:team_id>/toggle/", views.subscription_toggle, name="subscription-toggle"),
]

urlpatterns += [
    path("builder/", views.report_builder, name="builder"),
    path("builder/export/", views.report_builder_export, name="builder-export"),
    path("saved/", views.saved_report_list, name="saved-list"),
    path("saved/new/", views.saved_report_save, name="saved-save"),
    path("saved/<int:pk>/", views.saved_report, name="saved"),
    path("saved/<int:pk>/delete/", views.saved_report_delete, name="saved-delete"),
    path("saved/<int:pk>/subscribe/", views.saved_report_subscribe, name="saved-subscribe"),
    path("saved/<int:pk>/pin/", views.saved_report_pin, name="saved-pin"),
    path("dashboards/", views.dashboard_list, name="dashboards"),
    path("dashboards/new/", views.dashboard_create, name="dashboard-create"),
    path("dashboards/<int:pk>/", views.dashboard, name="dashboard"),
    path("dashboards/<int:pk>/default/", views.dashboard_set_default, name="dashboard-default"),
    path("dashboards/items/<int:item_id>/unpin/", views.dashboard_unpin, name="dashboard-unpin"),
]
