from django.urls import URLPattern, URLResolver, path

from commandcenter.web.views import account, catcher, compose, outbox, people

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
    path("emails/<int:email_id>/edit/", compose.edit, name="edit"),
    path("folders/<str:name>/", outbox.folder, name="folder"),
    path("batches/<int:batch_id>/<str:name>/", outbox.batch_rows, name="batch_rows"),
    path("compose/", compose.compose, name="compose"),
    path("compose/bulk/", compose.compose_bulk_view, name="compose_bulk"),
    path("people/", people.people, name="people"),
    path("people/new/", people.person_form, name="person_new"),
    path("people/import/", people.import_people, name="people_import"),
    path("people/<int:person_id>/", people.person_form, name="person_edit"),
    path("people/<int:person_id>/dnc/", people.do_not_contact, name="person_dnc"),
    path("catcher/", catcher.catcher_list, name="catcher"),
    path("catcher/<str:key>/", catcher.catcher_message, name="catcher_message"),
]
