"""A Zendesk look-alike: its own Django project, process, port and database.

Never imported by `inbox/`; never imports `inbox/`. The app and the tests talk to it over HTTP.
"""
