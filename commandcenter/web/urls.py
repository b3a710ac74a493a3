from django.urls import URLPattern, URLResolver, path

from commandcenter.web.views import account, catcher, compose, outbox, people, templates

app_name = "web"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", outbox.home, name="home"),
    path("login/", account.login, name="login"),
    path("logout/", account.logout, name="logout"),
    path("password/", account.password_change, name="password"),
    path("password/done/", account.password_done, name="password_done"),
    path("settings/", account.preferences, name="preferences"),
    path("view-as/", account.view_as, name="view_as"),
    path("tasks/", account.tasks, name="tasks"),
    path("emails/tabs/", outbox.tabs, name="tabs"),
    path("emails/actions/", outbox.email_actions, name="actions"),
    path("emails/<int:email_id>/", outbox.email_detail, name="email"),
    path("emails/<int:email_id>/original/", outbox.email_original, name="email_original"),
    path("emails/<int:email_id>/row/", outbox.email_row, name="email_row"),
    path("emails/<int:email_id>/edit/", compose.edit, name="edit"),
    path("folders/<str:name>/", outbox.folder, name="folder"),
    path("batches/<int:batch_id>/", outbox.batch_detail, name="batch"),
    path("batches/<int:batch_id>/<str:name>/", outbox.batch_rows, name="batch_rows"),
    path("compose/", compose.compose, name="compose"),
    path("compose/bulk/", compose.compose_bulk_view, name="compose_bulk"),
    path("compose/plain-text/", compose.plain_text, name="plain_text"),
    path("templates/", templates.template_list, name="templates"),
    path("templates/new/", templates.template_form, name="template_new"),
    path("templates/<int:template_id>/", templates.template_form, name="template_edit"),
    path("templates/<int:template_id>/delete/", templates.template_delete, name="template_delete"),
    path("people/", people.people, name="people"),
    path("people/new/", people.person_form, name="person_new"),
    path("people/suggest/", compose.suggest_people, name="people_suggest"),
    path(
        "people/suppressions/<int:suppression_id>/lift/",
        people.lift_suppression_view,
        name="suppression_lift",
    ),
    path("people/import/", people.import_people, name="people_import"),
    path("people/<int:person_id>/", people.person_form, name="person_edit"),
    path("people/<int:person_id>/dnc/", people.do_not_contact, name="person_dnc"),
    path("catcher/", catcher.catcher_list, name="catcher"),
    path("catcher/<str:key>/", catcher.catcher_message, name="catcher_message"),
]
