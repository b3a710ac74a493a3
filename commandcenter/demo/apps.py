from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo and synthetic data: the demo user's showcase and the bulk generator behind
    `commandcenter seed-demo` and `make bench`. Not domain code: no model, no rule lives here."""

    name = "commandcenter.demo"
    label = "demo"
