from django.urls import path

from deals import pipeline_views, quote_views, views

app_name = "deals"

urlpatterns = [
    path("", views.deal_list, name="list"),
    path("export.csv", views.deal_export, name="export"),
    path("export.xlsx", views.deal_export_xlsx, name="export-xlsx"),
    path("new/", views.deal_create, name="create"),
    path("contact-options/", views.contact_options, name="contact-options"),
    path("board/", views.board_default, name="board-default"),
    # The pipeline editor (admins and managers).
    path("pipelines/", pipeline_views.pipeline_editor_default, name="pipeline-editor-default"),
    path("pipelines/<int:pipeline_pk>/", pipeline_views.pipeline_editor, name="pipeline-editor"),
    path("pipelines/<int:pipeline_pk>/stages/", pipeline_views.stage_add, name="stage-add"),
    path("pipelines/<int:pipeline_pk>/stages/order/", pipeline_views.stage_reorder, name="stage-reorder"),
    path("pipelines/<int:pipeline_pk>/stages/<int:pk>/", pipeline_views.stage_edit, name="stage-edit"),
    path("pipelines/<int:pipeline_pk>/stages/<int:pk>/shift/", pipeline_views.stage_shift, name="stage-shift"),
    path("pipelines/<int:pipeline_pk>/stages/<int:pk>/delete/", pipeline_views.stage_delete, name="stage-delete"),
    path("board/<int:pipeline_pk>/", views.board, name="board"),
    path("board/<int:pipeline_pk>/stages/<int:stage_pk>/", views.board_column, name="board-column"),
    path("<int:pk>/", views.deal_detail, name="detail"),
    path("<int:pk>/edit/", views.deal_edit, name="edit"),
    path("<int:pk>/inline/<str:field>/", views.deal_inline, name="inline"),
    path("<int:pk>/move/", views.deal_move, name="move"),
    path("<int:pk>/card/", views.deal_card, name="card"),
    path("<int:pk>/line-items/", views.line_item_add, name="line-item-add"),
    path("<int:pk>/line-items/<int:item_pk>/", views.line_item_edit, name="line-item-edit"),
    path("<int:pk>/line-items/<int:item_pk>/remove/", views.line_item_remove, name="line-item-remove"),
    path("<int:pk>/quotes/new/", quote_views.quote_create, name="quote-create"),
    path("quotes/<int:pk>/", quote_views.quote_detail, name="quote-detail"),
    path("quotes/<int:pk>/pdf/", quote_views.quote_pdf, name="quote-pdf"),
    path("quotes/<int:pk>/edit/", quote_views.quote_edit, name="quote-edit"),
    path("quotes/<int:pk>/send/", quote_views.quote_send, name="quote-send"),
    path("quotes/<int:pk>/emails/", quote_views.quote_emails, name="quote-emails"),
    path("quotes/<int:pk>/answer/", quote_views.quote_answer, name="quote-answer"),
]
