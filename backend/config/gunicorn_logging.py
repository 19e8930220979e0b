"""gunicorn's access log without bearer links: an export download link is the grant itself
(whoever holds it downloads the file), so its token never reaches a log line.

Used with ``gunicorn --logger-class backend.config.gunicorn_logging.RedactingLogger``."""

from __future__ import annotations

from gunicorn.glogging import Logger

from backend.config.logging import redact_bearer_links


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q", "f"):  # request line, path, query string, referer
            if isinstance(atoms.get(name), str):
                atoms[name] = redact_bearer_links(atoms[name])
        return atoms
