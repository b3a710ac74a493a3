from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "commandcenter.accounts"
    label = "accounts"
