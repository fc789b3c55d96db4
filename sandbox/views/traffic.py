"""Sandbox views: traffic. Register URLs with sandbox.routing.route()."""

from __future__ import annotations
