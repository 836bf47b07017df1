"""`vsr ui`: a Gradio demo app to upload a video, follow its upscaling and compare the result.

Local mode runs the workflow on this machine (`vsr.workflow.run.upscale_file`, one task at a
time in a background thread) and follows the files its steps write. S3 mode uploads to the trigger's
key convention `<prefix>/<anime|real>/<uuid>/<name>` and follows `<output>/<uuid>/status.json`.
Tasks are kept under `--workdir/<uuid>/` (task.json, the source, the result, comparison frames).

Modules: `tasks` (task store, upload checks), `settings` (command line), `auth` (login),
`app` (the state behind the page), `local_runner` and `s3_runner` (the two modes), `outcome`
(done with comparison frames, or failed), `page` (the Gradio page).
"""

from __future__ import annotations

import os

from vsr.apps.ui.app import App
from vsr.apps.ui.auth import is_loopback, make_auth
from vsr.apps.ui.page import launch
from vsr.apps.ui.settings import parse_args, settings_from
from vsr.errors import VsrError, print_error

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """`vsr ui [--local-only] [--host H] [--port P] [--s3-input URI --s3-output URI] ...`."""
    args = parse_args(argv)
    host = args.host or "127.0.0.1"
    try:
        auth = make_auth(dict(os.environ), args.local_only)
        if auth is None and not is_loopback(host):
            raise VsrError(host, "--local-only (no login) binds loopback only")
        settings = settings_from(args)
        settings.workdir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("GRADIO_TEMP_DIR", str(settings.workdir / ".uploads"))
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        app = App(settings)
    except VsrError as error:
        print_error(error)
        return 2
    launch(app, host, args.port, auth)
    return 0
