from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "backend.audit"
    label = "audit"

    def ready(self) -> None:
        # The ground's BaseMutation records every write through this (backend.api.audit).
        from backend.api import audit as hook

        from .services import record_caller_write

        hook.register_recorder(record_caller_write)
